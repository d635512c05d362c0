using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FinServerless.Contracts;
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
        var maxBody = (long)app.Settings.Number(AppSettings.ScoreMaxBodyBytes, 2048.0 * maxRows, 1);
        if (BodyTooLarge(http, maxBody) is { } tooLarge)
        {
            return response.Error(413, "BodyTooLarge", $"The request body is {tooLarge:N0} bytes; ScoreBatch accepts at most {maxBody:N0} ({AppSettings.ScoreMaxBodyBytes}); submit a score job (POST /api/score-jobs) for larger batches.");
        }

        if (BodyKind(http) is not { } kind)
        {
            return response.Error(415, "UnsupportedMediaType", "Send application/json ({\"model\": ..., \"rows\": [...]}) or text/csv (a header row, then rows; ?model= names the model).");
        }

        List<Dictionary<string, string?>> rows;
        string? modelText;
        try
        {
            (modelText, rows) = ParseBody(http, kind, maxRows);
        }
        catch (TooManyRowsException ex)
        {
            return response.Error(413, "TooManyRows", $"More than {ex.Limit:N0} rows: the synchronous limit is {ex.Limit:N0} ({AppSettings.ScoreMaxRows}); submit a score job (POST /api/score-jobs) for larger batches.");
        }
        catch (Exception ex) when (ex is JsonException or FormatException or ArgumentException or CsvFormatException or InvalidOperationException)
        {
            return response.Error(400, "BadRequest", ex.Message);
        }

        if (modelText is null)
        {
            return response.Error(400, "BadRequest", "Name the model: \"model\": \"name@version\" or \"name@champion\" in the JSON body, or ?model= with a CSV body.");
        }

        ModelReference modelRef;
        try
        {
            modelRef = ModelReference.Parse(modelText, "model");
        }
        catch (InvalidNameException ex)
        {
            return response.Error(400, "InvalidName", ex.Message);
        }

        LoadedModel model;
        try
        {
            model = await app.LoadModelAsync(modelRef, cancellationToken).ConfigureAwait(false);
        }
        catch (ModelNotFoundException ex)
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

        ModelReference model;
        string run;
        try
        {
            model = ModelReference.Parse(Text(body, "model") ?? throw new InvalidNameException("model", NameKind.Model, "it is missing; give \"model\": \"name@version\" or \"name@champion\""), "model");
            if (Text(body, "run") is { } runPath)
            {
                var (p, d, r) = StorageLayout.ParseCuratedManifest(runPath, "run");
                run = StorageLayout.CuratedManifest(p, d, r);
            }
            else if (Text(body, "partner") is { } partnerText && Text(body, "dataset") is { } datasetText)
            {
                var (partner, dataset) = (StorageName.Partner(partnerText), StorageName.Dataset(datasetText));
                run = (await app.LatestRunAsync(partner, dataset, cancellationToken).ConfigureAwait(false))?.Path
                    ?? throw new RunNotFoundException($"No curated run exists for {partner}/{dataset}.");
            }
            else
            {
                return response.Error(400, "BadRequest", "Give \"model\" and either \"run\" (a curated manifest path) or \"partner\" and \"dataset\".");
            }
        }
        catch (InvalidNameException ex)
        {
            return response.Error(400, "InvalidName", ex.Message);
        }
        catch (InvalidOperationException ex)
        {
            return response.Error(400, "BadRequest", ex.Message);
        }
        catch (RunNotFoundException ex)
        {
            return response.Error(404, "RunNotFound", ex.Message);
        }
        var job = new ScoreJob(Guid.NewGuid().ToString("N"), model.ToString(), run, "queued", DateTimeOffset.UtcNow);
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
            var model = await app.LoadModelAsync(ModelReference.Parse(job.Model), cancellationToken).ConfigureAwait(false);
            var outcome = await BatchScorer.ScoreRunAsync(run, job.Run, app.Store, model, new ScoreOptions { Bands = app.Bands }, cancellationToken).ConfigureAwait(false);
            await WriteJobAsync(app, job with { State = "succeeded", UpdatedAt = DateTimeOffset.UtcNow, Manifest = outcome.ManifestPath, Rows = outcome.Manifest.Rows }, cancellationToken).ConfigureAwait(false);
            return new InvocationResponse { Logs = { $"score job {job.JobId}: {outcome.Manifest.Rows} rows → {outcome.ManifestPath}" } };
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The status is served over HTTP: a storage failure is described by its status, not the service's text.
            var error = ex is Azure.RequestFailedException storage ? $"a storage operation failed (HTTP {storage.Status} {storage.ErrorCode}); the function log has the details" : ex.Message;
            await WriteJobAsync(app, job with { State = "failed", UpdatedAt = DateTimeOffset.UtcNow, Error = error }, cancellationToken).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>GetScoreJob: GET /api/score-jobs/{jobId}.</summary>
    public static async Task<InvocationResponse> GetScoreJobAsync(AppServices app, InvocationRequest request, CancellationToken cancellationToken)
    {
        var response = new InvocationResponse();
        var id = request.Http().Params.GetValueOrDefault("jobId") ?? string.Empty;
        if (!StorageLayout.IsHex(id, 32))
        {
            return response.Error(400, "BadRequest", "A job id is 32 lowercase hexadecimal characters.");
        }

        var bytes = await app.Store.ReadAsync(StorageLayout.ScoreJob(id), cancellationToken).ConfigureAwait(false);
        return bytes is null
            ? response.Error(404, "JobNotFound", $"No score job {id}.")
            : response.Http(200, JsonNode.Parse(bytes));
    }

    /// <summary>A string field of a JSON body, or null; a field of another type is a clear error.</summary>
    private static string? Text(JsonObject body, string field) => body[field] switch
    {
        null => null,
        var node when node.GetValueKind() == JsonValueKind.String => node.GetValue<string>(),
        _ => throw new InvalidOperationException($"\"{field}\" must be a string."),
    };

    private static Task WriteJobAsync(AppServices app, ScoreJob job, CancellationToken cancellationToken) =>
        app.Store.WriteAsync(StorageLayout.ScoreJob(job.JobId), JsonSerializer.SerializeToUtf8Bytes(job, ModelManifest.JsonOptions), "application/json", createOnly: false, cancellationToken);

    /// <summary>The body's size when it is over the limit (declared or actual), else null.</summary>
    private static long? BodyTooLarge(HttpRequestData http, long limit)
    {
        if (long.TryParse(http.Header("Content-Length"), CultureInfo.InvariantCulture, out var declared) && declared > limit)
        {
            return declared;
        }

        var body = http.Body ?? string.Empty;
        if (body.Length <= limit / 3)
        {
            return null; // at most 3 UTF-8 bytes per UTF-16 unit: cannot be over
        }

        var bytes = System.Text.Encoding.UTF8.GetByteCount(body);
        return bytes > limit ? bytes : null;
    }

    private enum Kind
    {
        Json,
        Csv,
    }

    /// <summary>JSON (also when no content type is given) or CSV; null for anything else.</summary>
    private static Kind? BodyKind(HttpRequestData http)
    {
        var type = (http.Header("Content-Type") ?? string.Empty).Split(';')[0].Trim();
        return type.Length == 0 || type.Equals("application/json", StringComparison.OrdinalIgnoreCase) || type.EndsWith("+json", StringComparison.OrdinalIgnoreCase)
            ? Kind.Json
            : type.Equals("text/csv", StringComparison.OrdinalIgnoreCase) ? Kind.Csv : null;
    }

    private sealed class TooManyRowsException(int limit) : Exception
    {
        public int Limit { get; } = limit;
    }

    private static (string? Model, List<Dictionary<string, string?>> Rows) ParseBody(HttpRequestData http, Kind kind, int maxRows)
    {
        var body = http.Body ?? string.Empty;
        if (kind == Kind.Csv)
        {
            var rows = new List<Dictionary<string, string?>>();
            using var reader = new CsvReader(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(body)), (byte)',', 1 << 20, "request body");
            if (!reader.ReadRow())
            {
                return (http.Query.GetValueOrDefault("model"), rows);
            }

            var header = Enumerable.Range(0, reader.FieldCount).Select(i => System.Text.Encoding.UTF8.GetString(reader[i])).ToArray();
            if (header.Distinct(StringComparer.Ordinal).Count() != header.Length)
            {
                throw new FormatException($"The CSV body's header has {header.Length} columns but only {header.Distinct(StringComparer.Ordinal).Count()} distinct names; column names must be unique.");
            }

            while (reader.ReadRow())
            {
                if (reader.FieldCount != header.Length)
                {
                    throw new FormatException($"CSV body line {reader.Line} has {reader.FieldCount} fields; the header has {header.Length}.");
                }

                if (rows.Count == maxRows)
                {
                    throw new TooManyRowsException(maxRows);
                }

                rows.Add(header.Select((h, i) => (h, v: System.Text.Encoding.UTF8.GetString(reader[i]))).ToDictionary(p => p.h, p => (string?)p.v));
            }

            return (http.Query.GetValueOrDefault("model"), rows);
        }

        var json = JsonNode.Parse(body) as JsonObject ?? throw new ArgumentException("The body must be a JSON object {\"model\": ..., \"rows\": [...]}, or CSV with Content-Type text/csv.");
        var list = json["rows"] as JsonArray ?? throw new ArgumentException("The body needs \"rows\": an array of objects.");
        if (list.Count > maxRows)
        {
            throw new TooManyRowsException(maxRows);
        }

        var parsed = list.Select((row, i) => (row as JsonObject ?? throw new ArgumentException($"Row {i + 1} is not an object."))
            .ToDictionary(kv => kv.Key, kv => kv.Value is null ? null : kv.Value.GetValueKind() == JsonValueKind.String ? kv.Value.GetValue<string>() : kv.Value.ToJsonString())).ToList();
        var model = json["model"] is { } m ? (m.GetValueKind() == JsonValueKind.String ? m.GetValue<string>() : throw new ArgumentException("\"model\" must be a string such as \"name@champion\".")) : http.Query.GetValueOrDefault("model");
        return (model, parsed);
    }
}
