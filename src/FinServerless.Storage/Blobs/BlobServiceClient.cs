using System.Globalization;
using System.Text;
using System.Xml.Linq;
using Azure.Core;
using FinServerless.Storage.Sas;

namespace FinServerless.Storage.Blobs;

/// <summary>Entry point to a storage account's blob service. Thread-safe; share one per account.</summary>
public sealed class BlobServiceClient
{
    /// <summary>Creates a client for the endpoint (for Azurite, <c>http://127.0.0.1:{port}/devstoreaccount1</c>).</summary>
    public BlobServiceClient(Uri serviceUri, StorageCredential credential, StorageClientOptions? options = null)
    {
        Pipeline = StoragePipeline.Create(serviceUri, credential, options);
    }

    /// <summary>Creates a client signing with a shared key.</summary>
    public BlobServiceClient(Uri serviceUri, StorageSharedKeyCredential credential, StorageClientOptions? options = null)
        : this(serviceUri, new StorageCredential.Key(credential), options)
    {
    }

    /// <summary>Creates a client from a connection string.</summary>
    public static BlobServiceClient FromConnectionString(string connectionString, StorageClientOptions? options = null) =>
        StorageConnection.FromConnectionString(connectionString).CreateBlobServiceClient(options);

    /// <summary>The service endpoint.</summary>
    public Uri Uri => Pipeline.Endpoint;

    /// <summary>The account name (from the shared key, else the host or Azurite's path).</summary>
    public string AccountName => Pipeline.SharedKey?.AccountName ?? AccountNames.FromEndpoint(Pipeline.Endpoint);

    internal StoragePipeline Pipeline { get; }

    /// <summary>Names of the containers whose names start with <paramref name="prefix"/>, following pages as needed.</summary>
    public async IAsyncEnumerable<string> GetBlobContainerNamesAsync(string? prefix = null, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? marker = null;
        do
        {
            using var message = Pipeline.CreateMessage(RequestMethod.Get, string.Empty, ("comp", "list"), ("prefix", string.IsNullOrEmpty(prefix) ? null : prefix), ("marker", marker));
            var response = await Pipeline.SendAsync(message, "List containers", prefix ?? string.Empty, cancellationToken, 200).ConfigureAwait(false);
            var root = (await XDocument.LoadAsync(response.ContentStream!, LoadOptions.None, cancellationToken).ConfigureAwait(false)).Root!;
            foreach (var container in root.Element("Containers")?.Elements("Container") ?? [])
            {
                yield return container.Element("Name")!.Value;
            }

            marker = root.Element("NextMarker")?.Value is { Length: > 0 } next ? next : null;
        }
        while (marker is not null);
    }

    /// <summary>A client for one container (no request is made).</summary>
    public BlobContainerClient GetBlobContainerClient(string containerName) => new(this, containerName);

    /// <summary>
    /// Asks the service for a user delegation key (requires an Entra ID credential), used to sign SAS tokens
    /// when the account refuses shared keys. Valid for at most seven days.
    /// </summary>
    public async Task<UserDelegationKey> GetUserDelegationKeyAsync(DateTimeOffset startsOn, DateTimeOffset expiresOn, CancellationToken cancellationToken = default)
    {
        static string F(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
        using var message = Pipeline.CreateMessage(RequestMethod.Post, string.Empty, ("restype", "service"), ("comp", "userdelegationkey"));
        message.Request.Uri.Path += "/";
        message.Request.Headers.SetValue("Content-Type", "application/xml");
        message.Request.Content = RequestContent.Create(Encoding.UTF8.GetBytes(
            $"<?xml version=\"1.0\" encoding=\"utf-8\"?><KeyInfo><Start>{F(startsOn)}</Start><Expiry>{F(expiresOn)}</Expiry></KeyInfo>"));
        var response = await Pipeline.SendAsync(message, "Get user delegation key", AccountName, cancellationToken, 200).ConfigureAwait(false);
        var root = XDocument.Load(response.ContentStream!).Root!;
        string V(string name) => root.Element(name)?.Value ?? string.Empty;
        return new UserDelegationKey(V("SignedOid"), V("SignedTid"), V("SignedStart"), V("SignedExpiry"), V("SignedService"), V("SignedVersion"), V("Value"));
    }
}
