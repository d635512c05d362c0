using Azure.Identity;

namespace FinServerless.Storage.Tests;

public sealed class StorageConnectionTests
{
    [Fact]
    public void UseDevelopmentStorage_means_the_Azurite_account_on_its_default_ports()
    {
        var connection = StorageConnection.FromConnectionString("UseDevelopmentStorage=true");

        Assert.Equal(new Uri("http://127.0.0.1:10000/devstoreaccount1"), connection.BlobServiceUri);
        Assert.Equal(new Uri("http://127.0.0.1:10001/devstoreaccount1"), connection.QueueServiceUri);
        var key = Assert.IsType<StorageCredential.Key>(connection.Credential);
        Assert.Equal("devstoreaccount1", key.Credential.AccountName);
    }

    [Fact]
    public void An_account_connection_string_builds_the_service_endpoints_and_never_prints_the_key()
    {
        var connection = StorageConnection.FromConnectionString(
            "DefaultEndpointsProtocol=https;AccountName=fsprod;AccountKey=c2VjcmV0LWtleS1ieXRlcw==;EndpointSuffix=core.windows.net");

        Assert.Equal(new Uri("https://fsprod.blob.core.windows.net"), connection.BlobServiceUri);
        Assert.Equal(new Uri("https://fsprod.queue.core.windows.net"), connection.QueueServiceUri);
        Assert.DoesNotContain("c2VjcmV0", connection.ToString());
    }

    [Fact]
    public void A_SAS_connection_string_authenticates_with_the_SAS()
    {
        var connection = StorageConnection.FromConnectionString("BlobEndpoint=https://fsprod.blob.core.windows.net;SharedAccessSignature=sv=2025-11-05&sig=abc");

        var sas = Assert.IsType<StorageCredential.SharedAccessSignature>(connection.Credential);
        Assert.Equal("sv=2025-11-05&sig=abc", sas.Query);
        Assert.Null(connection.QueueServiceUri);
        Assert.DoesNotContain("sig=abc", connection.ToString());
    }

    [Theory]
    [InlineData("AccountKey=abc", "names no account")]
    [InlineData("nonsense", "without '='")]
    [InlineData("AccountName=x;AccountKey=not base64!", "not valid base64")]
    public void A_broken_connection_string_says_what_is_wrong(string value, string expected)
    {
        var error = Assert.ThrowsAny<Exception>(() => StorageConnection.FromConnectionString(value));

        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void Identity_based_settings_use_a_user_assigned_managed_identity()
    {
        var settings = new Dictionary<string, string>
        {
            ["AzureWebJobsStorage__blobServiceUri"] = "https://fsprod.blob.core.windows.net",
            ["AzureWebJobsStorage__queueServiceUri"] = "https://fsprod.queue.core.windows.net",
            ["AzureWebJobsStorage__credential"] = "managedidentity",
            ["AzureWebJobsStorage__clientId"] = "00000000-0000-0000-0000-000000000001",
        };

        var connection = StorageConnection.FromSettings("AzureWebJobsStorage", settings.GetValueOrDefault);

        Assert.Equal(new Uri("https://fsprod.blob.core.windows.net"), connection.BlobServiceUri);
        Assert.Equal(new Uri("https://fsprod.queue.core.windows.net"), connection.QueueServiceUri);
        var token = Assert.IsType<StorageCredential.Token>(connection.Credential);
        Assert.IsType<ManagedIdentityCredential>(token.Credential);
        Assert.Contains("user-assigned managed identity", connection.Description);
    }

    [Fact]
    public void An_account_name_alone_implies_the_public_endpoints()
    {
        var connection = StorageConnection.FromSettings("Data", name => name == "Data__accountName" ? "fsdata" : null);

        Assert.Equal(new Uri("https://fsdata.blob.core.windows.net"), connection.BlobServiceUri);
        Assert.IsType<DefaultAzureCredential>(Assert.IsType<StorageCredential.Token>(connection.Credential).Credential);
    }

    [Fact]
    public void A_missing_connection_names_the_settings_to_set()
    {
        var error = Assert.Throws<InvalidOperationException>(() => StorageConnection.FromSettings("AzureWebJobsStorage", _ => null));

        Assert.Contains("AzureWebJobsStorage__blobServiceUri", error.Message);
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
    }
}
