using System.Text.Json;
using FinServerless.Contracts;
using FinServerless.Datasets.Ingest;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;

namespace FinServerless.Functions.Functions;

/// <summary>IngestDataset: a BlobCreated event (Event Grid schema) from the ingest-events queue → ingest of that inbox blob.</summary>
public sealed class IngestFunctions(AppServices app, ILogger<IngestFunctions> log)
{
    /// <summary>Handles one event. A failure throws so the queue retries it; after host.json's maxDequeueCount (5) the message goes to the poison queue.</summary>
    [Function("IngestDataset")]
    public async Task RunAsync([QueueTrigger("ingest-events", Connection = AppSettings.Storage)] string message, long dequeueCount, CancellationToken cancellationToken)
    {
        using var doc = JsonDocument.Parse(string.IsNullOrWhiteSpace(message) ? throw new ArgumentException("IngestDataset received an empty message.") : message);
        var root = doc.RootElement.ValueKind == JsonValueKind.Array ? doc.RootElement[0] : doc.RootElement;
        var type = root.TryGetProperty("eventType", out var t) ? t.GetString() : null;
        if (type != "Microsoft.Storage.BlobCreated")
        {
            log.LogInformation("ignored an event of type {EventType}", StorageName.Quote(type ?? "(none)"));
            return;
        }

        var url = root.GetProperty("data").GetProperty("url").GetString() ?? throw new ArgumentException("The BlobCreated event has no data.url.");
        var (container, blob) = BlobPath(app, url);
        InboxFile file;
        try
        {
            file = InboxFile.Parse(container, blob);
        }
        catch (InvalidNameException ex)
        {
            // A verdict on the name, not a transient failure: recorded once, never ingested, not retried.
            var rejected = new { input = $"{container}/{blob}", state = "rejected", rule = "invalid_name", reason = ex.Message, attempts = dequeueCount, lastAttempt = DateTimeOffset.UtcNow };
            var path = StorageLayout.IngestFailure(container, blob);
            await app.Store.WriteAsync(path, JsonSerializer.SerializeToUtf8Bytes(rejected), "application/json", createOnly: false, cancellationToken).ConfigureAwait(false);
            log.LogWarning("ingest {Input}: rejected, not ingested ({Reason}); recorded at {Path}", StorageName.Quote($"{container}/{blob}"), ex.Message, path);
            return;
        }

        IngestOutcome outcome;
        try
        {
            outcome = await new BlobIngestor(app.Blobs).IngestAsync(file, app.IngestOptions, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The file's clear state while the queue retries (and after the message goes to the poison queue): why, and how often it was tried.
            var failure = new { input = file.Path, reason = ex.Message, attempts = dequeueCount, lastAttempt = DateTimeOffset.UtcNow };
            await app.Store.WriteAsync(StorageLayout.IngestFailure(container, blob), JsonSerializer.SerializeToUtf8Bytes(failure), "application/json", createOnly: false, cancellationToken).ConfigureAwait(false);
            throw;
        }

        log.LogInformation("ingest {File}: {State} run {RunId} ({Message})", file.ToString(), outcome.State, outcome.RunId, outcome.Message);
    }

    /// <summary>The container and blob name of a blob URL of this app's storage account.</summary>
    public static (string Container, string Blob) BlobPath(AppServices app, string url)
    {
        var endpoint = app.Blobs.Uri.AbsoluteUri.TrimEnd('/') + "/";
        if (!url.StartsWith(endpoint, StringComparison.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"The event's blob is not in this app's storage account ({endpoint}).");
        }

        var path = Uri.UnescapeDataString(url[endpoint.Length..]);
        var slash = path.IndexOf('/');
        return slash > 0 ? (path[..slash], path[(slash + 1)..]) : throw new ArgumentException($"The event's blob URL has no container: {url}");
    }
}
