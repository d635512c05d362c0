using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using FinServerless.Contracts;
using FinServerless.Datasets.Csv;
using FinServerless.Datasets.Ingest;
using FinServerless.Datasets.Output;
using FinServerless.Datasets.Validation;
using Microsoft.ML.OnnxRuntime;

namespace FinServerless.Scoring;

/// <summary>
/// Scores a curated run with a model version: each part is read, its columns mapped to the model's features
/// by name, scored through ONNX Runtime in batches, and written as a score part with ids, probability of
/// default, risk band and model; the manifest is written last. Parts are scored in parallel with bounded
/// memory; the same run and model version commit once.
/// </summary>
public static class BatchScorer
{
    /// <summary>Where a score run's files go.</summary>
    public static string ScorePrefix(RunManifest run, ModelManifest model)
    {
        var (partner, dataset, runId) = run.Names;
        var version = model.Reference;
        return StorageLayout.ScoreRun(partner, dataset, runId, version.Model, version.Version!);
    }

    /// <summary>Scores <paramref name="run"/>; <paramref name="store"/> holds the curated parts and receives the scores.</summary>
    public static async Task<ScoreOutcome> ScoreRunAsync(
        RunManifest run, string runManifestPath, IRunOutput store, LoadedModel model, ScoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ScoreOptions();
        var prefix = ScorePrefix(run, model.Manifest);
        var manifestPath = prefix + "_manifest.json";
        if (await store.ReadAsync(manifestPath, cancellationToken).ConfigureAwait(false) is { } existing)
        {
            return new ScoreOutcome(JsonSerializer.Deserialize<ScoreManifest>(existing, RunManifest.JsonOptions)!, manifestPath, AlreadyDone: true);
        }

        CheckFeatures(run, model.Manifest);
        var clock = Stopwatch.StartNew();
        var results = new PartResult[run.Parts.Count];
        var parallel = Math.Max(1, Math.Min(options.Partitions, run.Parts.Count));
        var sessions = new System.Collections.Concurrent.ConcurrentBag<InferenceSession>(
            options.SessionPerPartition && parallel > 1
                ? Enumerable.Range(0, parallel).Select(_ => model.CreateSingleThreadSession())
                : Enumerable.Repeat(model.Session, parallel));
        try
        {
            await Parallel.ForEachAsync(
                Enumerable.Range(0, run.Parts.Count),
                new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = cancellationToken },
                async (index, ct) =>
                {
                    sessions.TryTake(out var session);
                    try
                    {
                        results[index] = await ScorePartAsync(run, index, prefix, store, model, session!, options, ct).ConfigureAwait(false);
                    }
                    finally
                    {
                        sessions.Add(session!);
                    }
                }).ConfigureAwait(false);
        }
        finally
        {
            foreach (var session in sessions.Distinct())
            {
                if (!ReferenceEquals(session, model.Session))
                {
                    session.Dispose();
                }
            }
        }

        return await CommitAsync(run, runManifestPath, store, model.Manifest, results.Select(r => r.Scored).ToList(), clock.Elapsed.TotalSeconds, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Scores one part of a run and writes its score part (an orchestration's fan-out step); the run is committed
    /// by <see cref="CommitAsync"/> once every part is scored. Scoring a part again rewrites the same file.
    /// </summary>
    public static async Task<ScoredPart> ScorePartAsync(RunManifest run, int index, IRunOutput store, LoadedModel model, ScoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ScoreOptions();
        CheckFeatures(run, model.Manifest);
        return (await ScorePartAsync(run, index, ScorePrefix(run, model.Manifest), store, model, model.Session, options, cancellationToken).ConfigureAwait(false)).Scored;
    }

    /// <summary>Writes the score run's manifest (create-only: the first commit wins) from its scored parts, in part order.</summary>
    public static async Task<ScoreOutcome> CommitAsync(
        RunManifest run, string runManifestPath, IRunOutput store, ModelManifest model, IReadOnlyList<ScoredPart> parts, double totalSeconds, ScoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ScoreOptions();
        if (parts.Count != run.Parts.Count)
        {
            throw new InvalidOperationException($"Run {run.RunId} has {run.Parts.Count} parts but {parts.Count} were scored; a score run commits only when every part is scored.");
        }

        var manifestPath = ScorePrefix(run, model) + "_manifest.json";
        var runManifestBytes = await store.ReadAsync(runManifestPath, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Curated manifest {store.Describe(runManifestPath)} does not exist.");
        var bands = options.Bands.Names.ToDictionary(n => n, _ => 0L);
        foreach (var r in parts)
        {
            for (var b = 0; b < r.BandCounts.Count; b++)
            {
                bands[options.Bands.Names[b]] += r.BandCounts[b];
            }
        }

        var manifest = new ScoreManifest
        {
            Partner = run.Partner,
            Dataset = run.Dataset,
            RunId = run.RunId,
            CreatedAt = DateTimeOffset.UtcNow,
            Model = new ModelRef(model.Name, model.Version, model.Onnx.Sha256, model.Trainer),
            Input = new ScoreInput(runManifestPath, Convert.ToHexStringLower(SHA256.HashData(runManifestBytes)), run.RunId, run.Parts),
            Rows = parts.Sum(r => r.Part.Rows),
            Bands = bands,
            BandCutoffs = options.Bands.ToString(),
            Columns = OutputColumns(run),
            Parts = parts.Select(r => r.Part).ToList(),
            Timings = new ScoreTimings(totalSeconds, parts.Sum(r => r.RunSeconds), parts.Sum(r => r.PrepareSeconds), parts.Sum(r => r.WriteSeconds)),
            CodeVersion = options.CodeVersion,
        };

        if (!await store.WriteAsync(manifestPath, JsonSerializer.SerializeToUtf8Bytes(manifest, RunManifest.JsonOptions), "application/json", createOnly: true, cancellationToken).ConfigureAwait(false))
        {
            // Another worker committed the same run first: its manifest is the result.
            var winner = await store.ReadAsync(manifestPath, cancellationToken).ConfigureAwait(false);
            return new ScoreOutcome(JsonSerializer.Deserialize<ScoreManifest>(winner!, RunManifest.JsonOptions)!, manifestPath, AlreadyDone: true);
        }

        return new ScoreOutcome(manifest, manifestPath, AlreadyDone: false);
    }

    /// <summary>Fails with the differences when the run lacks a feature the model needs.</summary>
    public static void CheckFeatures(RunManifest run, ModelManifest model)
    {
        var available = run.Columns.ToHashSet(StringComparer.Ordinal);
        var missing = model.Features.Select(f => f.Name).Where(n => !available.Contains(n)).ToList();
        if (missing.Count > 0)
        {
            var unused = run.Columns.Except(model.Features.Select(f => f.Name)).Except(run.IdColumns).Where(c => c != run.TargetColumn).ToList();
            throw new ModelException(
                $"Model {model.Id} cannot score run {run.RunId} ({run.Partner}/{run.Dataset}): the run lacks feature(s) {string.Join(", ", missing.Select(m => $"'{m}'"))}" +
                (unused.Count > 0 ? $"; columns in the run that the model does not use: {string.Join(", ", unused.Select(m => $"'{m}'"))}." : "."));
        }
    }

    private static IReadOnlyList<string> OutputColumns(RunManifest run) =>
        [.. run.IdColumns, "probability_of_default", "risk_band", "model"];

    private sealed record PartResult(ScoredPart Scored);

    private static async Task<PartResult> ScorePartAsync(RunManifest run, int index, string prefix, IRunOutput store, LoadedModel model, InferenceSession session, ScoreOptions options, CancellationToken cancellationToken)
    {
        var input = run.Parts[index];
        var inputPath = run.PartPath(index);
        var bytes = await store.ReadAsync(inputPath, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Curated part {store.Describe(inputPath)} of run {run.RunId} is missing.");
        var actual = Convert.ToHexStringLower(SHA256.HashData(bytes));
        if (actual != input.Sha256)
        {
            throw new InvalidOperationException($"Curated part {input.Path} has SHA-256 {actual} but the run's manifest says {input.Sha256}; the run was modified after it was committed.");
        }

        var writer = new Utf8CsvWriter(Math.Max(1 << 20, bytes.Length / 2));
        var bandCounts = new long[options.Bands.Names.Count];
        var timing = await Task.Run(() => ScoreRows(run, input.Path, bytes, model, session, options, writer, bandCounts), cancellationToken).ConfigureAwait(false);

        var write = Stopwatch.StartNew();
        var path = prefix + StorageLayout.Part(index);
        await store.WriteAsync(path, writer.Written, "text/csv", createOnly: false, cancellationToken).ConfigureAwait(false);
        var part = new RunPart(path, timing.Rows, writer.Length, Convert.ToHexStringLower(SHA256.HashData(writer.Written.Span)));
        return new PartResult(new ScoredPart(part, bandCounts, timing.RunSeconds, timing.PrepareSeconds, write.Elapsed.TotalSeconds));
    }

    private static (long Rows, double RunSeconds, double PrepareSeconds) ScoreRows(
        RunManifest run, string path, byte[] bytes, LoadedModel model, InferenceSession session, ScoreOptions options, Utf8CsvWriter writer, long[] bandCounts)
    {
        var total = Stopwatch.StartNew();
        var features = model.Manifest.Features;
        var f = features.Count;
        using var reader = new CsvReader(new MemoryStream(bytes), (byte)',', 1 << 20, path);
        if (!reader.ReadRow())
        {
            throw new InvalidOperationException($"Curated part {path} is empty (no header).");
        }

        var header = Enumerable.Range(0, reader.FieldCount).Select(i => System.Text.Encoding.UTF8.GetString(reader[i])).ToList();
        var featurePositions = features.Select(feature => header.IndexOf(feature.Name)).ToArray();
        if (Array.IndexOf(featurePositions, -1) is var gap and >= 0)
        {
            throw new ModelException($"Curated part {path} has no column '{features[gap].Name}' required by model {model.Manifest.Id}.");
        }

        var impute = features.Select(x => x.Impute is { } v ? (float)v : float.NaN).ToArray();
        var idPositions = run.IdColumns.Select(id => header.IndexOf(id)).Where(i => i >= 0).ToArray();
        foreach (var id in run.IdColumns)
        {
            writer.Field(id);
        }

        writer.Field("probability_of_default");
        writer.Field("risk_band");
        writer.Field("model");
        writer.EndRow();

        var modelId = System.Text.Encoding.UTF8.GetBytes(model.Manifest.Id);
        var bandNames = options.Bands.Names.Select(System.Text.Encoding.UTF8.GetBytes).ToArray();
        var batch = options.BatchRows;
        var data = new float[batch * f];
        var ids = new Utf8CsvWriter(batch * 16 * Math.Max(1, idPositions.Length));
        var idEnds = new int[batch];
        long rows = 0;
        double runSeconds = 0;
        var run1 = new Stopwatch();
        var n = 0;

        void Flush()
        {
            if (n == 0)
            {
                return;
            }

            run1.Restart();
            var p = model.Predict(data.AsMemory(0, n * f), n, session);
            runSeconds += run1.Elapsed.TotalSeconds;

            var idBytes = ids.Written.Span;
            var start = 0;
            for (var r = 0; r < n; r++)
            {
                var probability = p[r];
                var band = options.Bands.IndexOf(probability);
                bandCounts[band]++;
                writer.AppendRows(idBytes[start..idEnds[r]]);
                start = idEnds[r];
                if (idPositions.Length > 0)
                {
                    writer.ContinueRow();
                }

                writer.Field(probability);
                writer.SafeField(bandNames[band]);
                writer.SafeField(modelId);
                writer.EndRow();
            }

            rows += n;
            n = 0;
            ids.Clear();
        }

        while (reader.ReadRow())
        {
            var offset = n * f;
            for (var k = 0; k < f; k++)
            {
                var cell = reader[featurePositions[k]];
                if (cell.Length == 0)
                {
                    data[offset + k] = impute[k];
                }
                else if (FastNumber.TryParseDouble(cell, out var value))
                {
                    data[offset + k] = (float)value;
                }
                else
                {
                    throw new ModelException($"Curated part {path}, line {reader.Line}: feature '{features[k].Name}' is not a number; models take numeric features (encode categories at ingest).");
                }
            }

            foreach (var position in idPositions)
            {
                ids.Field(reader[position]);
            }

            idEnds[n] = ids.Length;
            ids.StartNewRowWithoutNewline();
            n++;
            if (n == batch)
            {
                Flush();
            }
        }

        Flush();
        return (rows, runSeconds, total.Elapsed.TotalSeconds - runSeconds);
    }
}
