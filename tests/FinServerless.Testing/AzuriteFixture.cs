using FinServerless.Azurite;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using FinServerless.Connections;
using Xunit;

namespace FinServerless.Testing;

/// <summary>Starts one real Azurite (free ports, temporary folder) for a test class or collection, and stops it after.</summary>
public sealed class AzuriteFixture : IAsyncLifetime
{
    private AzuriteServer? _server;

    /// <summary>The running server.</summary>
    public AzuriteServer Server => _server ?? throw new InvalidOperationException("Azurite has not started.");

    /// <summary>Connection string for the running server.</summary>
    public string ConnectionString => Server.ConnectionString;

    /// <summary>A blob service client signed with the development key.</summary>
    public BlobServiceClient Blobs => StorageConnection.FromConnectionString(ConnectionString).CreateBlobServiceClient();

    /// <summary>A queue service client signed with the development key.</summary>
    public QueueServiceClient Queues => StorageConnection.FromConnectionString(ConnectionString).CreateQueueServiceClient();

    /// <summary>A container name no other test uses.</summary>
    public static string UniqueName(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 33, 63)];

    /// <inheritdoc/>
    public async Task InitializeAsync() => _server = await AzuriteServer.StartAsync();

    /// <inheritdoc/>
    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
