using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FinServerless.Datasets.Csv;
using FinServerless.Datasets.Validation;
using FinServerless.Functions.Handler;
using FinServerless.Scoring;

namespace FinServerless.Functions.Functions;

/// <summary>A score job as the queue carries it and as its status blob records it.</summary>
public sealed record ScoreJob(string JobId, string Model, string Run, string State, DateTimeOffset UpdatedAt, string? Manifest = null, long? Rows = null, string? Error = null);

/// <summary>Synchronous scoring of small batches and asynchronous scoring jobs.</summary>
public static class ScoringFunctions
{
    /// <summary>ScoreBatch: POST /api/score with {"model": "name@version|name@champion", "rows": [{feature: value, ...}]} or a CSV body and ?model=.</summary>
    public static async Task<InvocationResponse> ScoreBatchAsync(AppServices app, InvocationRequest request, CancellationToken cancellationToken)
    {
        var response = new InvocationResponse();
        var http = request.Http();
        var maxRows = (int)app.Settings.Number(AppSettings.ScoreMaxRows, 10_000, 1);
        List<Dictionary<string, string?>> rows;
        string? modelRef;
        try
        {
            (modelRef, rows) = ParseBody(http);
        }
        catch (Exception ex) when (ex is JsonException or FormatException or ArgumentException)
        {
            return response.Error(400, "BadRequest", ex.Message);
        }

        if (modelRef is null)
        {
            return response.Error(400, "BadRequest", "Name the model: \"model\": \"name@version\" or \"name@champion\" in the JSON body, or ?model= with a CSV body.");
        }

        if (rows.Count > maxRows)
        {
            return response.Error(413, "TooManyRows", $"{rows.Count:N0} rows exceed the synchronous limit of {maxRows:N0} ({AppSettings.ScoreMaxRows}); submit a score job (POST /api/score-jobs) for larger batches.");
        }

        LoadedModel model;
        try
        {
            model = await app.LoadModelAsync(modelRef, cancellationToken).ConfigureAwait(false);
        }
        catch (ModelException ex)
        {
            return response.Error(404, "ModelNotFound", ex.Message);
        }

        var features = model.Manifest.Features;
        var x = new float[rows.Count * features.Count];
        for (var r = 0; r < rows.Count; r++)
        {
            for (var k = 0; k < features.Count; k++)
            {
                if (!rows[r].TryGetValue(features[k].Name, out var text))
                {
                    return response.Error(400, "MissingFeature", $"Row {r + 1} has no '{features[k].Name}', which model {model.Manifest.Id} needs (send null for a missing value).");
                }

                if (string.IsNullOrEmpty(text))
                {
                    x[(r * features.Count) + k] = features[k].Impute is { } v ? (float)v : float.NaN;
                }
                else if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                {
                    x[(r * features.Count) + k] = (float)value;
                }
                else
                {
                    return response.Error(400, "NotANumber", $"Row {r + 1}, feature '{features[k].Name}' is not a number.");
                }
            }
        }

        var probabilities = model.Predict(x, rows.Count);
        var names = features.Select(f => f.Name).ToHashSet();
        var results = rows.Select((row, r) =>
        {
            var echo = row.Where(kv => !names.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => (object?)kv.Value);
            echo["probability_of_default"] = Math.Round(probabilities[r], 6);
            echo["risk_band"] = app.Bands.Names[app.Bands.IndexOf(probabilities[r])];
            return echo;
        }).ToList();

        response.Logs.Add($"scored {rows.Count} row(s) with {model.Manifest.Id}");
        return response.Http(200, new { model = model.Manifest.Id, rows = results });
    }

    /// <summary>SubmitScoreJob: POST /api/score-jobs {"model": ..., "run": "curated/.../_manifest.json"} or {"model", "partner", "dataset"} → 202 with a job id and status URL.</summary>
    public static async Task<InvocationResponse> SubmitScoreJobAsync(AppServices app, InvocationRequest request, CancellationToken cancellationToken)
    {
        var response = new InvocationResponse();
        JsonObject body;
        try
        {
            body = JsonNode.Parse(request.Http().Body ?? "null") as JsonObject ?? throw new JsonException("the body is not a JSON object");
        }
        catch (JsonException ex)
        {
            return response.Error(400, "BadRequest", $"The body must be JSON such as {{\"model\":\"taiwan-credit-xgboost@champion\",\"partner\":\"demo\",\"dataset\":\"taiwan-credit\"}}: {ex.Message}");
        }

        var model = body["model"]?.GetValue<string>();
        var run = body["run"]?.GetValue<string>();
        if (run is null && body["partner"]?.GetValue<string>() is { } partner && body["dataset"]?.GetValue<string>() is { } dataset)
        {
            run = (await app.LatestRunAsync(partner, dataset, cancellationToken).ConfigureAwait(false))?.Path;
            if (run is null)
            {
                return response.Error(404, "RunNotFound", $"No curated run exists for {partner}/{dataset}.");
            }
        }

        if (model is null || run is null)
        {
            return response.Error(400, "BadRequest", "Give \"model\" and either \"run\" (a curated manifest path) or \"partner\" and \"dataset\".");
        }

        var job = new ScoreJob(Guid.NewGuid().ToString("N"), model, run, "queued", DateTimeOffset.UtcNow);
        await WriteJobAsync(app, job, cancellationToken).ConfigureAwait(false);
        response.Outputs["request"] = job; // an object, so the host does not mistake it for base64
        var baseUrl = request.Http().Url is { Length: > 0 } url ? url[..url.IndexOf("/api/", StringComparison.Ordinal)] : string.Empty;
        return response.Http(202, new { jobId = job.JobId, status = job.State, statusUrl = $"{baseUrl}/api/score-jobs/{job.JobId}" });
    }

    /// <summary>ScoreJobWorker: scores the job's run; the status blob follows it (a failure is recorded and rethrown so the host retries).</summary>
    public static async Task<InvocationResponse> ScoreJobWorkerAsync(AppServices app, InvocationRequest request, CancellationToken cancellationToken)
    {
        var job = JsonSerializer.Deserialize<ScoreJob>(request.Json("request") ?? "null", Envelope.Options) ?? throw new ArgumentException("The score request is empty.");
        await WriteJobAsync(app, job with { State = "running", UpdatedAt = DateTimeOffset.UtcNow }, cancellationToken).ConfigureAwait(false);
        try
        {
            var run = await app.ReadRunAsync(job.Run, cancellationToken).ConfigureAwait(false);
            var model = await app.LoadModelAsync(job.Model, cancellationToken).ConfigureAwait(false);
            var outcome = await BatchScorer.ScoreRunAsync(run, job.Run, app.Store, model, new ScoreOptions { Bands = app.Bands }, cancellationToken).ConfigureAwait(false);
            await WriteJobAsync(app, job with { State = "succeeded", UpdatedAt = DateTimeOffset.UtcNow, Manifest = outcome.ManifestPath, Rows = outcome.Manifest.Rows }, cancellationToken).ConfigureAwait(false);
            return new InvocationResponse { Logs = { $"score job {job.JobId}: {outcome.Manifest.Rows} rows → {outcome.ManifestPath}" } };
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            await WriteJobAsync(app, job with { State = "failed", UpdatedAt = DateTimeOffset.UtcNow, Error = ex.Message }, cancellationToken).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>GetScoreJob: GET /api/score-jobs/{jobId}.</summary>
    public static async Task<InvocationResponse> GetScoreJobAsync(AppServices app, InvocationRequest request, CancellationToken cancellationToken)
    {
        var response = new InvocationResponse();
        var id = request.Http().Params.GetValueOrDefault("jobId") ?? string.Empty;
        if (id.Length != 32 || !id.All(char.IsAsciiHexDigit))
        {
            return response.Error(400, "BadRequest", "A job id is 32 hexadecimal characters.");
        }

        var bytes = await app.Store.ReadAsync(JobPath(id), cancellationToken).ConfigureAwait(false);
        return bytes is null
            ? response.Error(404, "JobNotFound", $"No score job {id}.")
            : response.Http(200, JsonNode.Parse(bytes));
    }

    private static string JobPath(string id) => $"scores/_jobs/{id}.json";

    private static Task WriteJobAsync(AppServices app, ScoreJob job, CancellationToken cancellationToken) =>
        app.Store.WriteAsync(JobPath(job.JobId), JsonSerializer.SerializeToUtf8Bytes(job, ModelManifest.JsonOptions), "application/json", createOnly: false, cancellationToken);

    private static (string? Model, List<Dictionary<string, string?>> Rows) ParseBody(HttpRequestData http)
    {
        var body = http.Body ?? string.Empty;
        var contentType = http.Header("Content-Type") ?? string.Empty;
        if (contentType.StartsWith("text/csv", StringComparison.OrdinalIgnoreCase))
        {
            var rows = new List<Dictionary<string, string?>>();
            using var reader = new CsvReader(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(body)), (byte)',', 1 << 20, "request body");
            if (!reader.ReadRow())
            {
                return (http.Query.GetValueOrDefault("model"), rows);
            }

            var header = Enumerable.Range(0, reader.FieldCount).Select(i => System.Text.Encoding.UTF8.GetString(reader[i])).ToArray();
            while (reader.ReadRow())
            {
                if (reader.FieldCount != header.Length)
                {
                    throw new FormatException($"CSV body line {reader.Line} has {reader.FieldCount} fields; the header has {header.Length}.");
                }

                rows.Add(header.Select((h, i) => (h, v: System.Text.Encoding.UTF8.GetString(reader[i]))).ToDictionary(p => p.h, p => (string?)p.v));
            }

            return (http.Query.GetValueOrDefault("model"), rows);
        }

        var json = JsonNode.Parse(body) as JsonObject ?? throw new ArgumentException("The body must be a JSON object {\"model\": ..., \"rows\": [...]}, or CSV with Content-Type text/csv.");
        var list = json["rows"] as JsonArray ?? throw new ArgumentException("The body needs \"rows\": an array of objects.");
        var parsed = list.Select((row, i) => (row as JsonObject ?? throw new ArgumentException($"Row {i + 1} is not an object."))
            .ToDictionary(kv => kv.Key, kv => kv.Value is null ? null : kv.Value.GetValueKind() == JsonValueKind.String ? kv.Value.GetValue<string>() : kv.Value.ToJsonString())).ToList();
        return (json["model"]?.GetValue<string>() ?? http.Query.GetValueOrDefault("model"), parsed);
    }
}
