namespace FinServerless.Storage.Queues;

/// <summary>Entry point to a storage account's queue service. Thread-safe; share one per account.</summary>
public sealed class QueueServiceClient
{
    /// <summary>Creates a client for the endpoint.</summary>
    public QueueServiceClient(Uri serviceUri, StorageCredential credential, StorageClientOptions? options = null, QueueMessageEncoding encoding = QueueMessageEncoding.Base64)
    {
        Pipeline = StoragePipeline.Create(serviceUri, credential, options);
        Encoding = encoding;
    }

    /// <summary>Creates a client from a connection string.</summary>
    public static QueueServiceClient FromConnectionString(string connectionString, StorageClientOptions? options = null, QueueMessageEncoding encoding = QueueMessageEncoding.Base64) =>
        StorageConnection.FromConnectionString(connectionString).CreateQueueServiceClient(options, encoding);

    /// <summary>The service endpoint.</summary>
    public Uri Uri => Pipeline.Endpoint;

    /// <summary>The message encoding used by queue clients created from this one.</summary>
    public QueueMessageEncoding Encoding { get; }

    internal StoragePipeline Pipeline { get; }

    /// <summary>A client for one queue (no request is made).</summary>
    public QueueClient GetQueueClient(string queueName) => new(this, queueName, Encoding);
}
