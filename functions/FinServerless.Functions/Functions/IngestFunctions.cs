using System.Text.Json;
using FinServerless.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Functions.Handler;

namespace FinServerless.Functions.Functions;

/// <summary>IngestDataset: a BlobCreated event (Event Grid schema) from the ingest-events queue → ingest of that inbox blob.</summary>
public static class IngestFunctions
{
    /// <summary>Handles one event. A failure answers non-2xx so the host retries; after 5 attempts the message goes to the poison queue.</summary>
    public static async Task<InvocationResponse> IngestDatasetAsync(AppServices app, InvocationRequest request, CancellationToken cancellationToken)
    {
        var response = new InvocationResponse();
        var json = request.Json("event") ?? throw new ArgumentException("IngestDataset received an empty message.");
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement.ValueKind == JsonValueKind.Array ? doc.RootElement[0] : doc.RootElement;
        var type = root.TryGetProperty("eventType", out var t) ? t.GetString() : null;
        if (type != "Microsoft.Storage.BlobCreated")
        {
            response.Logs.Add($"ignored an event of type '{type ?? "(none)"}'");
            return response;
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
            var rejected = new { input = $"{container}/{blob}", state = "rejected", rule = "invalid_name", reason = ex.Message, attempts = request.Meta("DequeueCount"), lastAttempt = DateTimeOffset.UtcNow };
            var path = StorageLayout.IngestFailure(container, blob);
            await app.Store.WriteAsync(path, JsonSerializer.SerializeToUtf8Bytes(rejected), "application/json", createOnly: false, cancellationToken).ConfigureAwait(false);
            response.Logs.Add($"ingest {StorageName.Quote($"{container}/{blob}")}: rejected, not ingested ({ex.Message}); recorded at {path}");
            response.ReturnValue = new { state = "Rejected", rule = "invalid_name", failure = path, message = ex.Message };
            return response;
        }

        IngestOutcome outcome;
        try
        {
            outcome = await new BlobIngestor(app.Blobs).IngestAsync(file, app.IngestOptions, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The file's clear state while the host retries (and after the message goes to the poison queue): why, and how often it was tried.
            var failure = new { input = file.Path, reason = ex.Message, attempts = request.Meta("DequeueCount"), lastAttempt = DateTimeOffset.UtcNow };
            await app.Store.WriteAsync(StorageLayout.IngestFailure(container, blob), JsonSerializer.SerializeToUtf8Bytes(failure), "application/json", createOnly: false, cancellationToken).ConfigureAwait(false);
            throw;
        }

        response.Logs.Add($"ingest {file}: {outcome.State} run {outcome.RunId} ({outcome.Message})");
        response.ReturnValue = new { state = outcome.State.ToString(), runId = outcome.RunId, manifest = outcome.ManifestPath, report = outcome.ReportPath, outcome.Message };
        return response;
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
