using Azure.Identity;
using Azure.Storage.Sas;
using FinServerless.Azurite;
using FinServerless.Connections;
using FinServerless.Testing;

namespace FinServerless.Connections.Tests;

/// <summary>Connections read the way the Functions host reads them, onto the SDK clients.</summary>
public sealed class ConnectionResolutionTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private const string Key = "c2VjcmV0LWtleS1ieXRlcy1jMmVqY21WMExXdGxlUT09";

    [Fact]
    public void UseDevelopmentStorage_means_the_Azurite_account_on_its_default_ports()
    {
        var connection = StorageConnection.FromSettings("AzureWebJobsStorage", n => n == "AzureWebJobsStorage" ? "UseDevelopmentStorage=true" : null);

        var blobs = connection.CreateBlobServiceClient();
        var queues = connection.CreateQueueServiceClient();

        Assert.Equal(new Uri("http://127.0.0.1:10000/devstoreaccount1"), blobs.Uri);
        Assert.Equal(new Uri("http://127.0.0.1:10001/devstoreaccount1"), queues.Uri);
        Assert.Equal("devstoreaccount1", blobs.AccountName);
        Assert.Equal(StorageCredentialKind.AccountKey, connection.CredentialKind);
        Assert.True(blobs.CanGenerateAccountSasUri, "the development key should be usable for signing");
    }

    [Fact]
    public void An_account_key_connection_string_builds_the_public_endpoints_and_never_prints_the_key()
    {
        var connection = StorageConnection.FromConnectionString(
            $"DefaultEndpointsProtocol=https;AccountName=fsprod;AccountKey={Key};EndpointSuffix=core.windows.net", "setting 'Data'");

        var blobs = connection.CreateBlobServiceClient();
        var queues = connection.CreateQueueServiceClient();

        Assert.Equal(new Uri("https://fsprod.blob.core.windows.net/"), blobs.Uri);
        Assert.Equal(new Uri("https://fsprod.queue.core.windows.net/"), queues.Uri);
        Assert.Equal(StorageCredentialKind.AccountKey, connection.CredentialKind);
        Assert.Contains("fsprod", connection.Description);
        Assert.Contains("Data", connection.Description);
        Assert.DoesNotContain("c2VjcmV0", connection.Description);
        Assert.DoesNotContain("c2VjcmV0", connection.ToString());
    }

    [Fact]
    public void A_SAS_connection_string_authenticates_with_the_SAS_and_never_prints_it()
    {
        var connection = StorageConnection.FromConnectionString("BlobEndpoint=https://fsprod.blob.core.windows.net;SharedAccessSignature=sv=2025-11-05&ss=b&srt=sco&sp=rw&se=2030-01-01&sig=abcSECRET");

        var blobs = connection.CreateBlobServiceClient();

        Assert.Equal(StorageCredentialKind.SharedAccessSignature, connection.CredentialKind);
        Assert.Equal("fsprod.blob.core.windows.net", blobs.Uri.Host);
        Assert.DoesNotContain("abcSECRET", connection.Description);
    }

    [Fact]
    public async Task A_SAS_connection_string_really_works_against_Azurite_for_what_it_grants()
    {
        var name = AzuriteFixture.UniqueName("sasconn");
        await azurite.Blobs.GetBlobContainerClient(name).CreateIfNotExistsAsync();
        var sas = azurite.Blobs.GenerateAccountSasUri(AccountSasPermissions.Read | AccountSasPermissions.Write | AccountSasPermissions.Create, DateTimeOffset.UtcNow.AddHours(1), AccountSasResourceTypes.Object);
        var settings = new Dictionary<string, string?> { ["Partner"] = $"BlobEndpoint={azurite.Server.BlobEndpoint};SharedAccessSignature={sas.Query.TrimStart('?')}" };
        var connection = StorageConnection.FromSettings("Partner", settings.GetValueOrDefault);
        var blob = connection.CreateBlobServiceClient().GetBlobContainerClient(name).GetBlobClient("hello.txt");

        await blob.UploadAsync(new BinaryData("hi"u8.ToArray()));
        var denied = await Assert.ThrowsAsync<Azure.RequestFailedException>(() => blob.DeleteAsync());

        Assert.Equal(StorageCredentialKind.SharedAccessSignature, connection.CredentialKind);
        Assert.Equal("hi", (await azurite.Blobs.GetBlobContainerClient(name).GetBlobClient("hello.txt").DownloadContentAsync()).Value.Content.ToString());
        Assert.Equal(403, denied.Status);
        Assert.DoesNotContain("sig=", connection.Description);
    }

    [Fact]
    public async Task The_Azurite_connection_string_in_a_setting_reaches_Azurite()
    {
        var settings = new Dictionary<string, string?> { ["AzureWebJobsStorage"] = azurite.ConnectionString };
        var connection = StorageConnection.FromSettings("AzureWebJobsStorage", settings.GetValueOrDefault);
        var queue = connection.CreateQueueServiceClient().GetQueueClient(AzuriteFixture.UniqueName("conn"));

        Assert.True((await queue.CreateIfNotExistsAsync()) is not null);
        Assert.True(await queue.ExistsAsync());
        Assert.DoesNotContain(AzuriteServer.AccountKey, connection.Description);
    }

    [Theory]
    [InlineData("AccountKey=" + Key, "names no account")]
    [InlineData("nonsense;AccountKey=" + Key, "without '='")]
    [InlineData("AccountName=x;AccountKey=not base64! c2VjcmV0", "not valid base64")]
    public void A_broken_connection_string_names_the_setting_says_what_is_wrong_and_never_echoes_the_key(string value, string expected)
    {
        var error = Assert.ThrowsAny<Exception>(() => StorageConnection.FromSettings("AzureWebJobsStorage", n => n == "AzureWebJobsStorage" ? value : null));

        Assert.Contains(expected, error.Message);
        Assert.Contains("'AzureWebJobsStorage'", error.Message);
        Assert.DoesNotContain("c2VjcmV0", error.Message);
    }

    [Fact]
    public void Identity_based_settings_use_a_user_assigned_managed_identity()
    {
        var settings = new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage__blobServiceUri"] = "https://fsprod.blob.core.windows.net",
            ["AzureWebJobsStorage__queueServiceUri"] = "https://fsprod.queue.core.windows.net",
            ["AzureWebJobsStorage__credential"] = "managedidentity",
            ["AzureWebJobsStorage__clientId"] = "00000000-0000-0000-0000-000000000001",
        };

        var connection = StorageConnection.FromSettings("AzureWebJobsStorage", settings.GetValueOrDefault);

        Assert.Equal(new Uri("https://fsprod.blob.core.windows.net/"), connection.CreateBlobServiceClient().Uri);
        Assert.Equal(new Uri("https://fsprod.queue.core.windows.net/"), connection.CreateQueueServiceClient().Uri);
        Assert.Equal(StorageCredentialKind.Token, connection.CredentialKind);
        Assert.IsType<ManagedIdentityCredential>(connection.TokenCredential);
        Assert.Contains("user-assigned managed identity", connection.Description);
        Assert.False(connection.CreateBlobServiceClient().CanGenerateAccountSasUri, "a token connection holds no key to sign with");
    }

    [Fact]
    public void Managed_identity_without_a_client_id_is_the_system_assigned_one()
    {
        var settings = new Dictionary<string, string?>
        {
            ["Data__blobServiceUri"] = "https://fsdata.blob.core.windows.net",
            ["Data__credential"] = "ManagedIdentity",
        };

        var connection = StorageConnection.FromSettings("Data", settings.GetValueOrDefault);

        Assert.IsType<ManagedIdentityCredential>(connection.TokenCredential);
        Assert.Contains("system-assigned managed identity", connection.Description);
        Assert.Null(connection.QueueServiceUri);
        var noQueue = Assert.Throws<InvalidOperationException>(() => connection.CreateQueueServiceClient());
        Assert.Contains("no queue endpoint", noQueue.Message);
    }

    [Theory]
    [InlineData("__")]
    [InlineData(":")]
    public void An_account_name_alone_implies_the_public_endpoints_and_the_default_credential(string separator)
    {
        var connection = StorageConnection.FromSettings("Data", name => name == $"Data{separator}accountName" ? "fsdata" : null);

        Assert.Equal(new Uri("https://fsdata.blob.core.windows.net"), connection.BlobServiceUri);
        Assert.Equal(new Uri("https://fsdata.queue.core.windows.net"), connection.QueueServiceUri);
        Assert.IsType<DefaultAzureCredential>(connection.TokenCredential);
    }

    [Fact]
    public void A_connection_string_in_the_setting_itself_wins_over_identity_settings()
    {
        var settings = new Dictionary<string, string?>
        {
            ["S"] = "UseDevelopmentStorage=true",
            ["S__blobServiceUri"] = "https://elsewhere.blob.core.windows.net",
        };

        var connection = StorageConnection.FromSettings("S", settings.GetValueOrDefault);

        Assert.Equal(StorageCredentialKind.AccountKey, connection.CredentialKind);
        Assert.Equal("devstoreaccount1", connection.CreateBlobServiceClient().AccountName);
    }

    [Fact]
    public void A_missing_connection_names_the_settings_to_set()
    {
        var error = Assert.Throws<InvalidOperationException>(() => StorageConnection.FromSettings("AzureWebJobsStorage", _ => null));

        Assert.Contains("'AzureWebJobsStorage'", error.Message);
        Assert.Contains("AzureWebJobsStorage__blobServiceUri", error.Message);
        Assert.Contains("AzureWebJobsStorage__accountName", error.Message);
    }

    [Fact]
    public void An_unknown_credential_kind_is_refused_by_name()
    {
        var error = Assert.Throws<InvalidOperationException>(() => StorageConnection.FromSettings("S", name => name switch
        {
            "S__blobServiceUri" => "https://a.blob.core.windows.net",
            "S__credential" => "password",
            _ => null,
        }));

        Assert.Contains("S__credential", error.Message);
        Assert.Contains("managedidentity", error.Message);
    }

    [Theory]
    [InlineData("S__blobServiceUri", "not a url")]
    [InlineData("S__queueServiceUri", "ftp://a.queue.core.windows.net")]
    public void A_bad_service_uri_is_refused_by_setting_name(string setting, string value)
    {
        var settings = new Dictionary<string, string?>
        {
            ["S__blobServiceUri"] = "https://a.blob.core.windows.net",
            ["S__queueServiceUri"] = "https://a.queue.core.windows.net",
        };
        settings[setting] = value;

        var error = Assert.Throws<InvalidOperationException>(() => StorageConnection.FromSettings("S", settings.GetValueOrDefault));

        Assert.Contains(setting, error.Message);
    }
}
