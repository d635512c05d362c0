using System.Buffers;
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
    public static string ScorePrefix(RunManifest run, ModelManifest model) => ScorePrefix(run.Names, model);

    private static string ScorePrefix((StorageName Partner, StorageName Dataset, StorageName Run) names, ModelManifest model)
    {
        var version = model.Reference;
        return StorageLayout.ScoreRun(names.Partner, names.Dataset, names.Run, version.Model, version.Version!);
    }

    /// <summary>Scores <paramref name="run"/>; <paramref name="store"/> holds the curated parts and receives the scores.</summary>
    public static async Task<ScoreOutcome> ScoreRunAsync(
        RunManifest run, string runManifestPath, IRunOutput store, LoadedModel model, ScoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ScoreOptions();
        var prefix = ScorePrefix(run, model.Manifest);
        var manifestPath = prefix + StorageLayout.ManifestFile;
        if (await store.ReadAsync(manifestPath, cancellationToken).ConfigureAwait(false) is { } existing)
        {
            return new ScoreOutcome(JsonSerializer.Deserialize<ScoreManifest>(existing, RunManifest.JsonOptions)!, manifestPath, AlreadyDone: true);
        }

        CheckFeatures(run, model.Manifest);
        var clock = Stopwatch.StartNew();
        var results = new PartResult[run.Parts.Count];
        var parallel = Math.Max(1, Math.Min(options.Partitions, run.Parts.Count));
        // Every batch of every part in flight goes to whichever session is free, so the last part is scored on
        // all of them and no session idles while another still has a part to finish.
        // The tree fast path needs no ORT session of its own: each partition only takes a place in the pool.
        var perPartition = options.SessionPerPartition && parallel > 1 && !model.FastPath;
        using var sessions = new SessionPool(
            perPartition
                ? Enumerable.Range(0, parallel).Select(_ => model.CreateSingleThreadSession()).ToList()
                : Enumerable.Repeat(model.Session, parallel).ToList(),
            owned: perPartition);
        await Parallel.ForEachAsync(
            Enumerable.Range(0, run.Parts.Count),
            new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = cancellationToken },
            async (index, ct) => results[index] = await ScorePartAsync(PartToScore.Of(run, index), prefix, store, model, sessions, options, ct).ConfigureAwait(false)).ConfigureAwait(false);

        return await CommitAsync(run, runManifestPath, store, model.Manifest, results.Select(r => r.Scored).ToList(), clock.Elapsed.TotalSeconds, options, cancellationToken, model.Engine).ConfigureAwait(false);
    }

    /// <summary>
    /// Scores one part of a run and writes its score part (an orchestration's fan-out step); the run is committed
    /// by <see cref="CommitAsync"/> once every part is scored. Scoring a part again rewrites the same file.
    /// </summary>
    public static Task<ScoredPart> ScorePartAsync(RunManifest run, int index, IRunOutput store, LoadedModel model, ScoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        CheckFeatures(run, model.Manifest);
        return ScorePartAsync(PartToScore.Of(run, index), store, model, options, cancellationToken);
    }

    /// <summary>Scores one part described without its run's manifest (a rescoring plan's partition reads only its part).</summary>
    public static async Task<ScoredPart> ScorePartAsync(PartToScore part, IRunOutput store, LoadedModel model, ScoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new ScoreOptions();
        using var sessions = new SessionPool([model.Session], owned: false);
        return (await ScorePartAsync(part, ScorePrefix(part.Names, model.Manifest), store, model, sessions, options, cancellationToken).ConfigureAwait(false)).Scored;
    }

    /// <summary>Writes the score run's manifest (create-only: the first commit wins) from its scored parts, in part order.</summary>
    public static async Task<ScoreOutcome> CommitAsync(
        RunManifest run, string runManifestPath, IRunOutput store, ModelManifest model, IReadOnlyList<ScoredPart> parts, double totalSeconds, ScoreOptions? options = null, CancellationToken cancellationToken = default, string? engine = null)
    {
        options ??= new ScoreOptions();
        if (parts.Count != run.Parts.Count)
        {
            throw new InvalidOperationException($"Run {run.RunId} has {run.Parts.Count} parts but {parts.Count} were scored; a score run commits only when every part is scored.");
        }

        var manifestPath = ScorePrefix(run, model) + StorageLayout.ManifestFile;
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
            Columns = OutputColumns(run, model, options),
            Parts = parts.Select(r => r.Part).ToList(),
            Timings = new ScoreTimings(totalSeconds, parts.Sum(r => r.RunSeconds), parts.Sum(r => r.PrepareSeconds), parts.Sum(r => r.WriteSeconds))
            {
                ReadSeconds = parts.Sum(r => r.ReadSeconds),
                ParseSeconds = parts.Sum(r => r.ParseSeconds),
                FormatSeconds = parts.Sum(r => r.FormatSeconds),
            },
            CodeVersion = options.CodeVersion,
            Engine = engine,
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

    private static IReadOnlyList<string> OutputColumns(RunManifest run, ModelManifest model, ScoreOptions options) =>
        [.. run.IdColumns, "probability_of_default", "grade", "model", .. ReasonColumns(model.Reasons is { GivesReasons: true } ? options.ReasonCount : 0)];

    /// <summary>reason_1, reason_1_points, … reason_N, reason_N_points.</summary>
    private static IEnumerable<string> ReasonColumns(int count) => Enumerable.Range(1, count).SelectMany(k => new[] { $"reason_{k}", $"reason_{k}_points" });

    private sealed record PartResult(ScoredPart Scored);

    private static async Task<PartResult> ScorePartAsync(PartToScore toScore, string prefix, IRunOutput store, LoadedModel model, SessionPool sessions, ScoreOptions options, CancellationToken cancellationToken)
    {
        var input = toScore.Part;
        var index = toScore.Index;
        var inputPath = toScore.Path;
        var read = Stopwatch.StartNew();
        var bytes = await store.ReadAsync(inputPath, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Curated part {store.Describe(inputPath)} of run {toScore.RunId} is missing.");
        try
        {
            _ = CuratedPartReader.Verified(bytes, input);
        }
        catch (CuratedDataException ex)
        {
            throw new InvalidOperationException(ex.Message, ex);
        }

        read.Stop();
        var bandCounts = new long[options.Bands.Names.Count];
        var (writer, timing) = await ScoreRowsAsync(new PartReader(toScore.IdColumns, input.Path, bytes, model.Manifest), model, sessions, options, bandCounts, cancellationToken).ConfigureAwait(false);

        var write = Stopwatch.StartNew();
        var path = prefix + StorageLayout.Part(index);
        await store.WriteAsync(path, writer.Written, "text/csv", createOnly: false, cancellationToken).ConfigureAwait(false);
        var part = new RunPart(path, timing.Rows, writer.Length, Convert.ToHexStringLower(SHA256.HashData(writer.Written.Span)));
        return new PartResult(new ScoredPart(part, bandCounts, timing.RunSeconds, read.Elapsed.TotalSeconds + timing.ParseSeconds + timing.FormatSeconds, write.Elapsed.TotalSeconds)
        {
            ReadSeconds = read.Elapsed.TotalSeconds,
            ParseSeconds = timing.ParseSeconds,
            FormatSeconds = timing.FormatSeconds,
        });
    }

    /// <summary>
    /// Scores a part's rows: they are parsed straight into batches of model input, each batch goes to the first
    /// free session as soon as it is full (a few batches ahead of the sessions at most), and the results come back
    /// in row order and are formatted while later batches run. Every batch has finished (and left its session)
    /// when this returns or throws.
    /// </summary>
    private static async Task<(Utf8CsvWriter Writer, (long Rows, double RunSeconds, double ParseSeconds, double FormatSeconds) Timing)> ScoreRowsAsync(
        PartReader reader, LoadedModel model, SessionPool sessions, ScoreOptions options, long[] bandCounts, CancellationToken cancellationToken)
    {
        var reasons = options.ReasonCount > 0 ? ReasonCodes.For(model) : null;
        var reasonCount = reasons is null ? 0 : options.ReasonCount;
        var batches = new List<Task<(float[] Probabilities, double Seconds, int[]? Reasons, float[]? Lost)>>();
        try
        {
            using (reader)
            {
                var size = options.BatchRows * reader.Features;
                int n;
                do
                {
                    await sessions.ReserveAsync(cancellationToken).ConfigureAwait(false);
                    var data = ArrayPool<float>.Shared.Rent(size);
                    try
                    {
                        n = reader.Read(data, options.BatchRows);
                    }
                    catch
                    {
                        ArrayPool<float>.Shared.Return(data);
                        sessions.Unreserve();
                        throw;
                    }

                    if (n == 0)
                    {
                        ArrayPool<float>.Shared.Return(data);
                        sessions.Unreserve();
                        break;
                    }

                    batches.Add(RunBatch(model, sessions, data, n, reasons, reasonCount, cancellationToken));
                }
                while (n == options.BatchRows);
            }

            var format = Stopwatch.StartNew();
            var modelId = System.Text.Encoding.UTF8.GetBytes(model.Manifest.Id);
            var bandNames = options.Bands.Names.Select(System.Text.Encoding.UTF8.GetBytes).ToArray();
            var idBytes = reader.Ids.Written;
            var idEnds = reader.IdEnds;

            // Room for every row up front: ids as read, a probability (at most 15 characters), band, model, separators.
            var writer = new Utf8CsvWriter(256 + idBytes.Length + (idEnds.Count * (20 + bandNames.Max(b => b.Length) + modelId.Length)));
            foreach (var id in reader.IdColumns)
            {
                writer.Field(id);
            }

            writer.Field("probability_of_default");
            writer.Field("grade");
            writer.Field("model");
            foreach (var column in ReasonColumns(reasonCount))
            {
                writer.Field(column);
            }

            writer.EndRow();
            var reasonNames = reasons?.Names.Select(System.Text.Encoding.UTF8.GetBytes).ToArray() ?? [];
            format.Stop();

            double runSeconds = 0;
            var row = 0;
            var start = 0;
            foreach (var batch in batches)
            {
                var (p, seconds, reasonIndex, reasonLost) = await batch.ConfigureAwait(false);
                runSeconds += seconds;
                format.Start();
                for (var r = 0; r < p.Length; r++, row++)
                {
                    var probability = p[r];
                    var band = options.Bands.IndexOf(probability);
                    bandCounts[band]++;
                    writer.AppendRows(idBytes.Span[start..idEnds[row]]);
                    start = idEnds[row];
                    if (reader.IdColumns.Count > 0)
                    {
                        writer.ContinueRow();
                    }

                    writer.Field(probability);
                    writer.SafeField(bandNames[band]);
                    writer.SafeField(modelId);
                    for (var k = 0; k < reasonCount; k++)
                    {
                        var feature = reasonIndex![(r * reasonCount) + k];
                        if (feature < 0)
                        {
                            writer.Empty();
                            writer.Empty();
                        }
                        else
                        {
                            writer.SafeField(reasonNames[feature]);
                            writer.Field(MathF.Round(reasonLost![(r * reasonCount) + k], reasons!.Decimals));
                        }
                    }

                    writer.EndRow();
                }

                format.Stop();
            }

            return (writer, (row, runSeconds, reader.Seconds, format.Elapsed.TotalSeconds));
        }
        catch
        {
            // Let the batches already handed out finish before the failure leaves (their sessions may be disposed next).
            await ((Task)Task.WhenAll(batches)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            throw;
        }
    }

    /// <summary>Runs one batch on the first free session, on a pool thread; then frees its place and its buffer.</summary>
    private static Task<(float[] Probabilities, double Seconds, int[]? Reasons, float[]? Lost)> RunBatch(
        LoadedModel model, SessionPool sessions, float[] data, int rows, ReasonCodes? reasons, int reasonCount, CancellationToken cancellationToken) =>
        Task.Run(
            async () =>
            {
                try
                {
                    var session = await sessions.RentAsync(cancellationToken).ConfigureAwait(false);
                    try
                    {
                        var clock = Stopwatch.StartNew();
                        var f = model.Manifest.Features.Count;
                        var p = model.Predict(data.AsMemory(0, rows * f), rows, session);
                        int[]? index = null;
                        float[]? lost = null;
                        if (reasons is not null && reasonCount > 0)
                        {
                            // Reasons from the same model input the PD came from (imputed as scoring imputes).
                            index = new int[rows * reasonCount];
                            lost = new float[rows * reasonCount];
                            for (var r = 0; r < rows; r++)
                            {
                                reasons.Top(data.AsSpan(r * f, f), index.AsSpan(r * reasonCount, reasonCount), lost.AsSpan(r * reasonCount, reasonCount));
                            }
                        }

                        return (p, clock.Elapsed.TotalSeconds, index, lost);
                    }
                    finally
                    {
                        sessions.Return(session);
                    }
                }
                finally
                {
                    ArrayPool<float>.Shared.Return(data);
                    sessions.Unreserve();
                }
            },
            CancellationToken.None);

    /// <summary>
    /// Reads a curated part's rows straight into batches of model input (no allocation per row): features by
    /// name in the model's order, missing values imputed as the manifest says; keeps each row's id fields, as CSV,
    /// for the score part. The part's bytes are let go when the last row is read.
    /// </summary>
    private sealed class PartReader : IDisposable
    {
        private readonly int[] _idPositions;
        private CuratedPartReader? _reader;

        public PartReader(IReadOnlyList<string> idColumns, string path, byte[] bytes, ModelManifest model)
        {
            var clock = Stopwatch.StartNew();
            try
            {
                _reader = new CuratedPartReader(bytes, $"Curated part {path}", [.. model.Features.Select(f => f.Name)], [.. model.Features.Select(f => f.Impute)]);
            }
            catch (CuratedDataException ex)
            {
                throw new ModelException($"{ex.Message} Model {model.Id} needs it.", ex);
            }

            _idPositions = [.. idColumns.Select(_reader.Position).Where(i => i >= 0)];
            IdColumns = idColumns;
            Ids = new Utf8CsvWriter(Math.Max(1 << 16, _idPositions.Length * (bytes.Length / 8)));
            Features = model.Features.Count;
            Seconds = clock.Elapsed.TotalSeconds;
        }

        /// <summary>Features per row.</summary>
        public int Features { get; }

        /// <summary>The run's id columns, which head each score row.</summary>
        public IReadOnlyList<string> IdColumns { get; }

        /// <summary>The id fields of every row read, one after another, without newlines.</summary>
        public Utf8CsvWriter Ids { get; }

        /// <summary>Where each row's id fields end in <see cref="Ids"/>.</summary>
        public List<int> IdEnds { get; } = [];

        /// <summary>Time spent reading.</summary>
        public double Seconds { get; private set; }

        /// <summary>Reads up to <paramref name="rows"/> rows into <paramref name="data"/> (rows × features); 0 at the end.</summary>
        public int Read(float[] data, int rows)
        {
            if (_reader is null)
            {
                return 0;
            }

            var clock = Stopwatch.StartNew();
            var f = Features;
            var n = 0;
            try
            {
                while (n < rows && _reader.ReadRow(data.AsSpan(n * f, f)))
                {
                    foreach (var position in _idPositions)
                    {
                        Ids.Field(_reader[position]);
                    }

                    IdEnds.Add(Ids.Length);
                    Ids.StartNewRowWithoutNewline();
                    n++;
                }
            }
            catch (CuratedDataException ex)
            {
                throw new ModelException(ex.Message, ex);
            }

            if (n < rows)
            {
                Dispose();
            }

            Seconds += clock.Elapsed.TotalSeconds;
            return n;
        }

        /// <inheritdoc/>
        public void Dispose()
        {
            _reader?.Dispose();
            _reader = null;
        }
    }
}

/// <summary>
/// One curated part to score, described without its run's manifest: the run's names, the part's index and record
/// (path, rows, SHA-256), and the run's id columns. Its path must be the run's own part path.
/// </summary>
public sealed record PartToScore(string Partner, string Dataset, string RunId, int Index, RunPart Part, IReadOnlyList<string> IdColumns)
{
    /// <summary>Part <paramref name="index"/> of <paramref name="run"/>.</summary>
    public static PartToScore Of(RunManifest run, int index) => new(run.Partner, run.Dataset, run.RunId, index, run.Parts[index] with { Path = run.PartPath(index) }, run.IdColumns);

    /// <summary>The run's names, validated.</summary>
    public (StorageName Partner, StorageName Dataset, StorageName Run) Names =>
        (StorageName.Partner(Partner, "part partner"), StorageName.Dataset(Dataset, "part dataset"), StorageName.Run(RunId, "part runId"));

    /// <summary>The part's path, which must be <c>curated/{partner}/{dataset}/{run}/part-NNNNN.csv</c> of its index.</summary>
    public string Path
    {
        get
        {
            var (partner, dataset, run) = Names;
            var expected = StorageLayout.CuratedRun(partner, dataset, run) + StorageLayout.Part(Index);
            return Part.Path == expected
                ? expected
                : throw new InvalidDataException($"Part {Index + 1} of run {RunId} is recorded at {StorageName.Quote(Part.Path)}, not at {expected}; a run's parts live under its own prefix.");
        }
    }
}
