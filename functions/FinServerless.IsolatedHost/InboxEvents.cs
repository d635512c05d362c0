using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Queues;

namespace FinServerless.IsolatedHost;

/// <summary>
/// Plays Event Grid's part locally: one <c>Microsoft.Storage.BlobCreated</c> event (Event Grid schema) per new blob
/// version in the containers whose names start with <see cref="ContainerPrefix"/>, onto <see cref="QueueName"/>, as the
/// Event Grid subscription in Azure delivers them. What was announced is kept in a state blob, so a restarted host
/// announces only what is new.
/// </summary>
public sealed class InboxEvents(BlobServiceClient blobs, QueueServiceClient queues, Action<string> log)
{
    /// <summary>The containers watched: every container whose name starts with this.</summary>
    public string ContainerPrefix { get; init; } = "inbox-";

    /// <summary>The queue the events go to (the Event Grid subscription's destination).</summary>
    public string QueueName { get; init; } = "ingest-events";

    /// <summary>How often the containers are listed.</summary>
    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(1);

    private const string StateContainer = "azure-webjobs-devhost";
    private const string StateBlob = "blob-watcher.json";

    /// <summary>Watches until cancelled; storage errors are logged and retried.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var state = blobs.GetBlobContainerClient(StateContainer);
        await state.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        var stateBlob = state.GetBlobClient(StateBlob);
        Dictionary<string, string> seen;
        try
        {
            seen = JsonSerializer.Deserialize<Dictionary<string, string>>((await stateBlob.DownloadContentAsync(cancellationToken).ConfigureAwait(false)).Value.Content.ToMemory().Span) ?? [];
        }
        catch (Azure.RequestFailedException ex) when (ex.Status == 404)
        {
            seen = [];
        }

        var events = queues.GetQueueClient(QueueName);
        await events.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                var changed = false;
                await foreach (var item in blobs.GetBlobContainersAsync(BlobContainerTraits.None, BlobContainerStates.None, ContainerPrefix, cancellationToken).ConfigureAwait(false))
                {
                    var container = item.Name;
                    await foreach (var blob in blobs.GetBlobContainerClient(container).GetBlobsAsync(BlobTraits.None, BlobStates.None, null, cancellationToken).ConfigureAwait(false))
                    {
                        var key = $"{container}/{blob.Name}";
                        var etag = blob.Properties.ETag?.ToString() ?? string.Empty;
                        if (seen.TryGetValue(key, out var known) && known == etag)
                        {
                            continue;
                        }

                        await events.SendMessageAsync(BlobCreated(container, blob).ToJsonString(), cancellationToken: cancellationToken).ConfigureAwait(false);
                        seen[key] = etag;
                        changed = true;
                        log($"inbox watcher: BlobCreated {FinServerless.Contracts.StorageName.Quote(key)} ({blob.Properties.ContentLength:N0} bytes) → {QueueName}");
                    }
                }

                if (changed)
                {
                    await stateBlob.UploadAsync(new BinaryData(JsonSerializer.SerializeToUtf8Bytes(seen)), new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" } }, cancellationToken).ConfigureAwait(false);
                }

                await Task.Delay(Interval, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is Azure.RequestFailedException or HttpRequestException or IOException)
            {
                log($"inbox watcher: {ex.Message}; retrying");
                await Task.Delay(1000, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private JsonObject BlobCreated(string container, BlobItem blob) => new()
    {
        ["topic"] = $"/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/Microsoft.Storage/storageAccounts/{blobs.AccountName}",
        ["subject"] = $"/blobServices/default/containers/{container}/blobs/{blob.Name}",
        ["eventType"] = "Microsoft.Storage.BlobCreated",
        ["id"] = Guid.NewGuid().ToString(),
        ["eventTime"] = DateTimeOffset.UtcNow.ToString("o"),
        ["dataVersion"] = string.Empty,
        ["metadataVersion"] = "1",
        ["data"] = new JsonObject
        {
            ["api"] = "PutBlob",
            ["contentType"] = blob.Properties.ContentType,
            ["contentLength"] = blob.Properties.ContentLength,
            ["blobType"] = "BlockBlob",
            ["eTag"] = blob.Properties.ETag?.ToString(),
            ["url"] = $"{blobs.Uri.AbsoluteUri.TrimEnd('/')}/{container}/{Uri.EscapeDataString(blob.Name).Replace("%2F", "/", StringComparison.Ordinal)}",
            ["sequencer"] = DateTime.UtcNow.Ticks.ToString("x16", CultureInfo.InvariantCulture),
        },
    };
}
