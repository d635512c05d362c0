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

    /// <summary>A client for one container (no request is made).</summary>
    public BlobContainerClient GetBlobContainerClient(string containerName) => new(this, containerName);
}
