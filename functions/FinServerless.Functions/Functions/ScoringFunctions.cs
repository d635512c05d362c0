using FinServerless.Datasets.Output;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FinServerless.Contracts;
using FinServerless.Datasets.Csv;
using FinServerless.Datasets.Validation;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Extensions.Logging;
using FinServerless.Scoring;

namespace FinServerless.Functions.Functions;

/// <summary>A score job as the queue carries it and as its status blob records it.</summary>
public sealed record ScoreJob(string JobId, string Model, string Run, string State, DateTimeOffset UpdatedAt, string? Manifest = null, long? Rows = null, string? Error = null);

/// <summary>SubmitScoreJob's two outputs: the HTTP answer and, when accepted, the job on the score-requests queue.</summary>
public sealed class SubmitScoreJobOutput
{
    /// <summary>202 with the job id and status URL, or the error.</summary>
    [HttpResult]
    public required IActionResult Response { get; init; }

    /// <summary>The job for ScoreJobWorker (none when the request was refused).</summary>
    [QueueOutput("score-requests", Connection = AppSettings.Storage)]
    public ScoreJob? Job { get; init; }
}

/// <summary>Synchronous scoring of small batches and asynchronous scoring jobs.</summary>
public sealed class ScoringFunctions(AppServices app, ILogger<ScoringFunctions> log)
{
    /// <summary>ScoreBatch: POST /api/score with {"model": "name@version|name@champion", "rows": [{feature: value, ...}]} or a CSV body and ?model=.</summary>
    [Function("ScoreBatch")]
    public async Task<IActionResult> ScoreBatchAsync([HttpTrigger(AuthorizationLevel.Function, "post", Route = "score")] HttpRequest http, CancellationToken cancellationToken)
    {
        var (maxRows, maxBody) = app.ScoreLimits;
        if (BodyKind(http) is not { } kind)
        {
            return AppJson.Error(415, "UnsupportedMediaType", "Send application/json ({\"model\": ..., \"rows\": [...]}) or text/csv (a header row, then rows; ?model= names the model).");
        }

        byte[] body;
        try
        {
            body = await HttpInput.ReadBodyAsync(http, maxBody, cancellationToken).ConfigureAwait(false);
        }
        catch (BodyTooLargeException ex)
        {
            return AppJson.Error(413, "BodyTooLarge", $"The request body is {ex.Size:N0} bytes or more; ScoreBatch accepts at most {maxBody:N0} ({AppSettings.ScoreMaxBodyBytes}); submit a score job (POST /api/score-jobs) for larger batches.");
        }

        List<Dictionary<string, string?>> rows;
        string? modelText;
        try
        {
            (modelText, rows) = ParseBody(body, http.Query["model"].FirstOrDefault(), kind, maxRows);
        }
        catch (TooManyRowsException ex)
        {
            return AppJson.Error(413, "TooManyRows", $"More than {ex.Limit:N0} rows: the synchronous limit is {ex.Limit:N0} ({AppSettings.ScoreMaxRows}); submit a score job (POST /api/score-jobs) for larger batches.");
        }
        catch (Exception ex) when (ex is JsonException or FormatException or ArgumentException or CsvFormatException or InvalidOperationException)
        {
            return AppJson.Error(400, "BadRequest", ex.Message);
        }

        if (modelText is null)
        {
            return AppJson.Error(400, "BadRequest", "Name the model: \"model\": \"name@version\" or \"name@champion\" in the JSON body, or ?model= with a CSV body.");
        }

        ModelReference modelRef;
        try
        {
            modelRef = ModelReference.Parse(modelText, "model");
        }
        catch (InvalidNameException ex)
        {
            return AppJson.Error(400, "InvalidName", ex.Message);
        }

        LoadedModel model;
        try
        {
            model = await app.LoadModelAsync(modelRef, cancellationToken).ConfigureAwait(false);
        }
        catch (ModelNotFoundException ex)
        {
            return AppJson.Error(404, "ModelNotFound", ex.Message);
        }

        var features = model.Manifest.Features;
        var values = (IReadOnlyList<IReadOnlyDictionary<string, string?>>)rows;
        var contract = await app.TrainingContractAsync(model.Manifest, cancellationToken).ConfigureAwait(false);
        byte[] curated;
        if (contract is { } found)
        {
            // The same normalization as ingest (missing tokens, sentinels, imputation, clipping, ranges): a row scores
            // over HTTP as it does after ingest. Features are sent under the contract's input column names.
            foreach (var feature in features)
            {
                var input = found.Contract.Columns.FirstOrDefault(c => c.EffectiveOutputName == feature.Name)?.Name ?? feature.Name;
                if (rows.FindIndex(row => !row.ContainsKey(input)) is var lacking and >= 0)
                {
                    return AppJson.Error(400, "MissingFeature", $"Row {lacking + 1} has no '{input}', which model {model.Manifest.Id} needs (send null for a missing value).");
                }
            }

            var (normalized, failures) = new OnlineRows(found.Contract).NormalizeToCurated(values);
            if (failures.Count > 0)
            {
                var listed = string.Join("; ", failures.Take(10).Select(f => $"row {f.Row}, column '{f.Column}': {f.Rule} ({f.Detail})"));
                return AppJson.Error(400, "RowRejected", $"{failures.Count:N0} value(s) break the contract {found.Path} that model {model.Manifest.Id} was trained under, as ingest would quarantine them: {listed}{(failures.Count > 10 ? "; …" : string.Empty)}.");
            }

            curated = normalized!;
        }
        else
        {
            // A model without a training contract (trained outside the platform): the rows are taken as curated already.
            if (rows.Select((row, r) => (row, r)).Select(x => (x.r, missing: features.FirstOrDefault(f => !x.row.ContainsKey(f.Name)))).FirstOrDefault(x => x.missing is not null) is { missing: { } lacking } gap)
            {
                return AppJson.Error(400, "MissingFeature", $"Row {gap.r + 1} has no '{lacking.Name}', which model {model.Manifest.Id} needs (send null for a missing value).");
            }

            curated = OnlineRows.AsCurated(values, [.. features.Select(f => f.Name)]);
        }

        // Read as batch scoring and training read curated parts: one reader, the same imputation and parsing.
        var x = new float[rows.Count * features.Count];
        try
        {
            using var reader = model.Manifest.OpenReader(new MemoryStream(curated, writable: false), "the request's rows");
            var read = 0;
            while (read < rows.Count && reader.ReadRow(x.AsSpan(read * features.Count, features.Count)))
            {
                read++;
            }

            if (read != rows.Count)
            {
                throw new InvalidOperationException($"The request's {rows.Count:N0} rows normalized to {read:N0}.");
            }
        }
        catch (CuratedDataException ex)
        {
            return AppJson.Error(400, "NotANumber", ex.Message.Replace(", line ", ", row ", StringComparison.Ordinal));
        }

        var probabilities = model.Predict(x, rows.Count);
        var names = features.Select(f => f.Name).ToHashSet();
        var reasons = ReasonCodes.For(model);
        const int reasonCount = ScoreOptions.DefaultReasonCount;
        // The same reasons batch scoring writes, from the same model input, computed for all rows at once.
        var reasonIndex = new int[rows.Count * reasonCount];
        var reasonLost = new float[rows.Count * reasonCount];
        reasons?.Top(x, rows.Count, features.Count, reasonCount, reasonIndex, reasonLost);
        var results = rows.Select((row, r) =>
        {
            var echo = row.Where(kv => !names.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => (object?)kv.Value);
            echo["probability_of_default"] = Math.Round(probabilities[r], 6);
            echo["grade"] = app.Bands.Names[app.Bands.IndexOf(probabilities[r])];
            if (reasons is not null)
            {
                echo["reasons"] = Enumerable.Range(r * reasonCount, reasonCount).Where(k => reasonIndex[k] >= 0)
                    .Select(k => new { feature = reasons.Names[reasonIndex[k]], text = reasons.Texts[reasonIndex[k]], pointsLost = Math.Round(reasonLost[k], reasons.Decimals) }).ToList();
            }

            return echo;
        }).ToList();

        log.LogInformation("scored {Rows} row(s) with {Model}", rows.Count, model.Manifest.Id);
        return AppJson.Result(200, new { model = model.Manifest.Id, contract = contract?.Path, rows = results });
    }

    /// <summary>SubmitScoreJob: POST /api/score-jobs {"model": ..., "run": "curated/.../_manifest.json"} or {"model", "partner", "dataset"} → 202 with a job id and status URL.</summary>
    [Function("SubmitScoreJob")]
    public async Task<SubmitScoreJobOutput> SubmitScoreJobAsync([HttpTrigger(AuthorizationLevel.Function, "post", Route = "score-jobs")] HttpRequest request, CancellationToken cancellationToken) =>
        await SubmitAsync(request, cancellationToken).ConfigureAwait(false) switch
        {
            (var refused, null) => new SubmitScoreJobOutput { Response = refused! },
            (_, var job) => new SubmitScoreJobOutput
            {
                Job = job,
                Response = AppJson.Result(202, new { jobId = job.JobId, status = job.State, statusUrl = $"{request.Scheme}://{request.Host}{request.PathBase}/api/score-jobs/{job.JobId}" }),
            },
        };

    private async Task<(IActionResult? Refused, ScoreJob? Job)> SubmitAsync(HttpRequest request, CancellationToken cancellationToken)
    {
        JsonObject body;
        try
        {
            body = JsonNode.Parse(await HttpInput.ReadTextAsync(request, 1 << 20, cancellationToken).ConfigureAwait(false)) as JsonObject ?? throw new JsonException("the body is not a JSON object");
        }
        catch (BodyTooLargeException ex)
        {
            return (AppJson.Error(413, "BodyTooLarge", $"A score job request is a small JSON object: {ex.Message}"), null);
        }
        catch (JsonException ex)
        {
            return (AppJson.Error(400, "BadRequest", $"The body must be JSON such as {{\"model\":\"taiwan-credit-xgboost@champion\",\"partner\":\"demo\",\"dataset\":\"taiwan-credit\"}}: {ex.Message}"), null);
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
                return (AppJson.Error(400, "BadRequest", "Give \"model\" and either \"run\" (a curated manifest path) or \"partner\" and \"dataset\"."), null);
            }
        }
        catch (InvalidNameException ex)
        {
            return (AppJson.Error(400, "InvalidName", ex.Message), null);
        }
        catch (InvalidOperationException ex)
        {
            return (AppJson.Error(400, "BadRequest", ex.Message), null);
        }
        catch (RunNotFoundException ex)
        {
            return (AppJson.Error(404, "RunNotFound", ex.Message), null);
        }
        var job = new ScoreJob(Guid.NewGuid().ToString("N"), model.ToString(), run, "queued", DateTimeOffset.UtcNow);
        await WriteJobAsync(job, cancellationToken).ConfigureAwait(false);
        log.LogInformation("score job {JobId} queued: {Model} on {Run}", job.JobId, job.Model, job.Run);
        return (null, job);
    }

    /// <summary>ScoreJobWorker: scores the job's run; the status blob follows it (a failure is recorded and rethrown so the host retries).</summary>
    [Function("ScoreJobWorker")]
    public async Task ScoreJobWorkerAsync([QueueTrigger("score-requests", Connection = AppSettings.Storage)] string message, CancellationToken cancellationToken)
    {
        var job = JsonSerializer.Deserialize<ScoreJob>(message, AppJson.Options) ?? throw new ArgumentException("The score request is empty.");
        await WriteJobAsync(job with { State = "running", UpdatedAt = DateTimeOffset.UtcNow }, cancellationToken).ConfigureAwait(false);
        try
        {
            var run = await app.ReadRunAsync(job.Run, cancellationToken).ConfigureAwait(false);
            var model = await app.LoadModelAsync(ModelReference.Parse(job.Model), cancellationToken).ConfigureAwait(false);
            var outcome = await BatchScorer.ScoreRunAsync(run, job.Run, app.Store, model, app.ScoreOptions, cancellationToken).ConfigureAwait(false);
            await WriteJobAsync(job with { State = "succeeded", UpdatedAt = DateTimeOffset.UtcNow, Manifest = outcome.ManifestPath, Rows = outcome.Manifest.Rows }, cancellationToken).ConfigureAwait(false);
            log.LogInformation("score job {JobId}: {Rows} rows → {Manifest}", job.JobId, outcome.Manifest.Rows, outcome.ManifestPath);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The status is served over HTTP: a storage failure is described by its status, not the service's text.
            var error = ex is Azure.RequestFailedException storage ? $"a storage operation failed (HTTP {storage.Status} {storage.ErrorCode}); the function log has the details" : ex.Message;
            await WriteJobAsync(job with { State = "failed", UpdatedAt = DateTimeOffset.UtcNow, Error = error }, cancellationToken).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>GetScoreJob: GET /api/score-jobs/{jobId}.</summary>
    [Function("GetScoreJob")]
    public async Task<IActionResult> GetScoreJobAsync([HttpTrigger(AuthorizationLevel.Function, "get", Route = "score-jobs/{jobId}")] HttpRequest request, string jobId, CancellationToken cancellationToken)
    {
        var id = jobId ?? string.Empty;
        if (!StorageLayout.IsHex(id, 32))
        {
            return AppJson.Error(400, "BadRequest", "A job id is 32 lowercase hexadecimal characters.");
        }

        var bytes = await app.Store.ReadAsync(StorageLayout.ScoreJob(id), cancellationToken).ConfigureAwait(false);
        return bytes is null
            ? AppJson.Error(404, "JobNotFound", $"No score job {id}.")
            : AppJson.Result(200, JsonNode.Parse(bytes));
    }

    /// <summary>A string field of a JSON body, or null; a field of another type is a clear error.</summary>
    private static string? Text(JsonObject body, string field) => body[field] switch
    {
        null => null,
        var node when node.GetValueKind() == JsonValueKind.String => node.GetValue<string>(),
        _ => throw new InvalidOperationException($"\"{field}\" must be a string."),
    };

    private Task WriteJobAsync(ScoreJob job, CancellationToken cancellationToken) =>
        app.Store.WriteAsync(StorageLayout.ScoreJob(job.JobId), JsonSerializer.SerializeToUtf8Bytes(job, ModelManifest.JsonOptions), "application/json", createOnly: false, cancellationToken);

    private enum Kind
    {
        Json,
        Csv,
    }

    /// <summary>JSON (also when no content type is given) or CSV; null for anything else.</summary>
    private static Kind? BodyKind(HttpRequest http)
    {
        var type = (http.ContentType ?? string.Empty).Split(';')[0].Trim();
        return type.Length == 0 || type.Equals("application/json", StringComparison.OrdinalIgnoreCase) || type.EndsWith("+json", StringComparison.OrdinalIgnoreCase)
            ? Kind.Json
            : type.Equals("text/csv", StringComparison.OrdinalIgnoreCase) ? Kind.Csv : null;
    }

    private sealed class TooManyRowsException(int limit) : Exception
    {
        public int Limit { get; } = limit;
    }

    private static (string? Model, List<Dictionary<string, string?>> Rows) ParseBody(byte[] body, string? queryModel, Kind kind, int maxRows)
    {
        if (kind == Kind.Csv)
        {
            var rows = new List<Dictionary<string, string?>>();
            using var reader = new CsvReader(new MemoryStream(body), (byte)',', 1 << 20, "request body");
            if (!reader.ReadRow())
            {
                return (queryModel, rows);
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

            return (queryModel, rows);
        }

        var json = JsonNode.Parse(body.Length == 0 ? "null"u8.ToArray() : body) as JsonObject ?? throw new ArgumentException("The body must be a JSON object {\"model\": ..., \"rows\": [...]}, or CSV with Content-Type text/csv.");
        var list = json["rows"] as JsonArray ?? throw new ArgumentException("The body needs \"rows\": an array of objects.");
        if (list.Count > maxRows)
        {
            throw new TooManyRowsException(maxRows);
        }

        var parsed = list.Select((row, i) => (row as JsonObject ?? throw new ArgumentException($"Row {i + 1} is not an object."))
            .ToDictionary(kv => kv.Key, kv => kv.Value is null ? null : kv.Value.GetValueKind() == JsonValueKind.String ? kv.Value.GetValue<string>() : kv.Value.ToJsonString())).ToList();
        var model = json["model"] is { } m ? (m.GetValueKind() == JsonValueKind.String ? m.GetValue<string>() : throw new ArgumentException("\"model\" must be a string such as \"name@champion\".")) : queryModel;
        return (model, parsed);
    }
}
