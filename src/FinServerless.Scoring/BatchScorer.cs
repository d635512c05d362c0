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
        // Batch and chunk buffers are reused by every part of the run, so memory does not grow with the parts scored.
        var buffers = new PartBuffers();
        using var sessions = new SessionPool(
            perPartition
                ? Enumerable.Range(0, parallel).Select(_ => model.CreateSingleThreadSession()).ToList()
                : Enumerable.Repeat(model.Session, parallel).ToList(),
            owned: perPartition);
        await Parallel.ForEachAsync(
            Enumerable.Range(0, run.Parts.Count),
            new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = cancellationToken },
            async (index, ct) => results[index] = await ScorePartAsync(PartToScore.Of(run, index), prefix, store, model, sessions, options, buffers, ct).ConfigureAwait(false)).ConfigureAwait(false);

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
        return (await ScorePartAsync(part, ScorePrefix(part.Names, model.Manifest), store, model, sessions, options, new PartBuffers(), cancellationToken).ConfigureAwait(false)).Scored;
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
            ReasonTexts = GivesReasons(model, options) ? model.Features.Where(f => f.ReasonText is not null && !f.Protected).ToDictionary(f => f.Name, f => f.ReasonText!, StringComparer.Ordinal) : null,
            NeverReasons = GivesReasons(model, options) ? [.. model.Features.Where(f => f.Protected).Select(f => f.Name)] : null,
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

    private static bool GivesReasons(ModelManifest model, ScoreOptions options) => model.Reasons is { GivesReasons: true } && options.ReasonCount > 0;

    private static IReadOnlyList<string> OutputColumns(RunManifest run, ModelManifest model, ScoreOptions options) =>
        [.. run.IdColumns, "probability_of_default", "grade", "model", .. ReasonColumns(GivesReasons(model, options) ? options.ReasonCount : 0)];

    /// <summary>reason_1, reason_1_points, … reason_N, reason_N_points.</summary>
    private static IEnumerable<string> ReasonColumns(int count) => Enumerable.Range(1, count).SelectMany(k => new[] { $"reason_{k}", $"reason_{k}_points" });

    private sealed record PartResult(ScoredPart Scored);

    /// <summary>Bytes of formatted score rows handed to the writer at a time (tests make it small; the bytes written do not depend on it).</summary>
    internal static int ChunkBytes { get; set; } = 1 << 20;

    /// <summary>
    /// Scores one part as a pipeline in bounded memory, whatever the part's size: its rows are streamed from storage
    /// (hashed as they arrive) and parsed straight into batches of model input; each batch goes to the first free
    /// session; a formatter takes the results in row order and formats score rows into 1 MiB chunks while later
    /// batches run; a writer stages the chunks to storage in the background. The score part becomes visible only
    /// when every row is written and the input's bytes proved to be the committed ones (length and SHA-256).
    /// </summary>
    private static async Task<PartResult> ScorePartAsync(PartToScore toScore, string prefix, IRunOutput store, LoadedModel model, SessionPool sessions, ScoreOptions options, PartBuffers buffers, CancellationToken cancellationToken)
    {
        var input = toScore.Part;
        var inputPath = toScore.Path;
        var source = await store.OpenReadAsync(inputPath, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Curated part {store.Describe(inputPath)} of run {toScore.RunId} is missing.");
        var hashing = new HashingReadStream(source);
        try
        {
            var path = prefix + StorageLayout.Part(toScore.Index);
            await using var output = await store.OpenWriteAsync(path, "text/csv", cancellationToken).ConfigureAwait(false);
            var bandCounts = new long[options.Bands.Names.Count];
            PipelineResult result;
            try
            {
                using var reader = new PartReader(toScore.IdColumns, input.Path, hashing, model.Manifest, options.BatchRows);
                result = await ScoreRowsAsync(reader, output, model, sessions, options, bandCounts, buffers, cancellationToken).ConfigureAwait(false);
            }
            catch (ModelException)
            {
                // A row that does not parse in a part that is not the committed one: the modification is the reason.
                bool unchanged;
                try
                {
                    unchanged = Unchanged(hashing, input, drain: true);
                }
                catch (Exception) when (!cancellationToken.IsCancellationRequested)
                {
                    // The rest of the part could not be read to tell: the parse failure stands.
                    unchanged = true;
                }

                if (!unchanged)
                {
                    throw new InvalidOperationException(Modified(hashing, input));
                }

                throw;
            }

            if (!Unchanged(hashing, input, drain: false))
            {
                throw new InvalidOperationException(Modified(hashing, input));
            }

            var commit = Stopwatch.GetTimestamp();
            await output.CommitAsync(cancellationToken).ConfigureAwait(false);
            var writeSeconds = result.WriteSeconds + Stopwatch.GetElapsedTime(commit).TotalSeconds;
            var part = new RunPart(path, result.Rows, output.Length, result.Sha256);
            var readSeconds = hashing.ReadSeconds;
            var parseSeconds = Math.Max(0, result.ReaderSeconds - readSeconds);
            return new PartResult(new ScoredPart(part, bandCounts, result.RunSeconds, readSeconds + parseSeconds + result.FormatSeconds, writeSeconds)
            {
                ReadSeconds = readSeconds,
                ParseSeconds = parseSeconds,
                FormatSeconds = result.FormatSeconds,
            });
        }
        finally
        {
            await source.DisposeAsync().ConfigureAwait(false);
            hashing.ReleaseHash();
        }
    }

    /// <summary>Whether what was read is the committed part; <paramref name="drain"/> reads the rest first (after a failure part-way).</summary>
    internal static bool Unchanged(HashingReadStream hashing, RunPart part, bool drain) =>
        (drain ? hashing.Finish() : hashing.CurrentHash()) == part.Sha256 && hashing.BytesRead == part.Bytes;

    internal static string Modified(HashingReadStream hashing, RunPart part) =>
        $"Curated part {part.Path} has {hashing.BytesRead:N0} bytes with SHA-256 {hashing.CurrentHash()} but the run's manifest says {part.Bytes:N0} bytes with {part.Sha256}; the run was modified after it was committed.";

    private sealed record PipelineResult(long Rows, string Sha256, double RunSeconds, double ReaderSeconds, double FormatSeconds, double WriteSeconds);

    /// <summary>One batch on its way through the pipeline: its scoring task and its rows' id fields.</summary>
    private sealed record PendingBatch(Task<BatchResult> Scored, BatchIds Ids);

    private sealed record BatchResult(float[] Probabilities, double Seconds, int[]? Reasons, float[]? Lost);

    /// <summary>Buffers free for the next batch (ids) and the next chunk of score rows, shared by the parts of a run.</summary>
    private sealed class PartBuffers
    {
        public System.Collections.Concurrent.ConcurrentBag<BatchIds> Ids { get; } = [];

        public System.Collections.Concurrent.ConcurrentBag<Utf8CsvWriter> Chunks { get; } = [];
    }

    /// <summary>The id fields of one batch's rows, one after another without newlines, and where each row's end.</summary>
    private sealed class BatchIds(int rows)
    {
        public Utf8CsvWriter Fields { get; } = new(Math.Max(1 << 12, rows * 16));

        public int[] Ends { get; } = new int[rows];

        public int Count { get; set; }

        public void Clear()
        {
            Fields.Clear();
            Count = 0;
        }
    }

    /// <summary>
    /// The pipeline of one part (see <see cref="ScorePartAsync(PartToScore, string, IRunOutput, LoadedModel, SessionPool, ScoreOptions, PartBuffers, CancellationToken)"/>):
    /// this method reads and hands out batches; a formatter and a writer run beside it, each bounded by a small channel,
    /// so at most a few batches and chunks are held at once. Every batch has finished (and left its session), and both
    /// stages have stopped, when this returns or throws.
    /// </summary>
    private static async Task<PipelineResult> ScoreRowsAsync(
        PartReader reader, ObjectWriter output, LoadedModel model, SessionPool sessions, ScoreOptions options, long[] bandCounts, PartBuffers buffers, CancellationToken cancellationToken)
    {
        var reasons = options.ReasonCount > 0 ? ReasonCodes.For(model) : null;
        var reasonCount = reasons is null ? 0 : options.ReasonCount;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pending = System.Threading.Channels.Channel.CreateBounded<PendingBatch>(new System.Threading.Channels.BoundedChannelOptions(4) { SingleReader = true, SingleWriter = true });
        var chunks = System.Threading.Channels.Channel.CreateBounded<Utf8CsvWriter>(new System.Threading.Channels.BoundedChannelOptions(2) { SingleReader = true, SingleWriter = true });
        var spareIds = buffers.Ids;
        var spareChunks = buffers.Chunks;
        var batches = new List<Task<BatchResult>>();
        var formatter = Task.Run(() => FormatAsync(pending.Reader, chunks.Writer, spareIds, spareChunks, reader.IdColumns, reasons, reasonCount, model, options, bandCounts, stop), CancellationToken.None);
        var writer = Task.Run(() => WriteAsync(chunks.Reader, output, spareChunks, stop), CancellationToken.None);
        try
        {
            try
            {
                var size = options.BatchRows * reader.Features;
                int n;
                do
                {
                    await sessions.ReserveAsync(stop.Token).ConfigureAwait(false);
                    var data = ArrayPool<float>.Shared.Rent(size);
                    var ids = spareIds.TryTake(out var spare) ? spare : new BatchIds(options.BatchRows);
                    try
                    {
                        n = reader.Read(data, options.BatchRows, ids);
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

                    var batch = RunBatch(model, sessions, data, n, reasons, reasonCount, stop.Token);
                    batches.Add(batch);
                    await pending.Writer.WriteAsync(new PendingBatch(batch, ids), stop.Token).ConfigureAwait(false);
                }
                while (n == options.BatchRows);
            }
            finally
            {
                pending.Writer.TryComplete();
            }

            var (rows, formatSeconds) = await formatter.ConfigureAwait(false);
            var (sha256, writeSeconds) = await writer.ConfigureAwait(false);
            double runSeconds = 0;
            foreach (var batch in batches)
            {
                runSeconds += (await batch.ConfigureAwait(false)).Seconds;
            }

            return new PipelineResult(rows, sha256, runSeconds, reader.Seconds, formatSeconds, writeSeconds);
        }
        catch (Exception failure)
        {
            // Stop every stage, let the batches already handed out finish (their sessions may be disposed next), and
            // report the first failure: a stage that stopped because another failed only says it was cancelled.
            await stop.CancelAsync().ConfigureAwait(false);
            await ((Task)Task.WhenAll([.. batches, formatter, writer])).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            var first = new Task[] { formatter, writer }.Select(t => t.Exception?.InnerException).FirstOrDefault(e => e is not null and not OperationCanceledException);
            if (failure is OperationCanceledException && first is not null && !cancellationToken.IsCancellationRequested)
            {
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
            }

            throw;
        }
    }

    /// <summary>
    /// The formatter: takes each batch's results in row order, writes its score rows (ids as read, probability, grade,
    /// model, reasons) into chunks of about 1 MiB and passes every full chunk to the writer. Returns the rows and its time.
    /// </summary>
    private static async Task<(long Rows, double Seconds)> FormatAsync(
        System.Threading.Channels.ChannelReader<PendingBatch> pending,
        System.Threading.Channels.ChannelWriter<Utf8CsvWriter> chunks,
        System.Collections.Concurrent.ConcurrentBag<BatchIds> spareIds,
        System.Collections.Concurrent.ConcurrentBag<Utf8CsvWriter> spareChunks,
        IReadOnlyList<string> idColumns,
        ReasonCodes? reasons,
        int reasonCount,
        LoadedModel model,
        ScoreOptions options,
        long[] bandCounts,
        CancellationTokenSource stop)
    {
        var cancellationToken = stop.Token;
        var busy = new Stopwatch();
        try
        {
            busy.Start();
            var modelId = System.Text.Encoding.UTF8.GetBytes(model.Manifest.Id);
            var bandNames = options.Bands.Names.Select(System.Text.Encoding.UTF8.GetBytes).ToArray();
            var reasonNames = reasons?.Names.Select(System.Text.Encoding.UTF8.GetBytes).ToArray() ?? [];
            Utf8CsvWriter NewChunk() => spareChunks.TryTake(out var spare) ? spare : new Utf8CsvWriter(ChunkBytes + (64 << 10));
            var chunk = NewChunk();
            foreach (var id in idColumns)
            {
                chunk.Field(id);
            }

            chunk.Field("probability_of_default");
            chunk.Field("grade");
            chunk.Field("model");
            foreach (var column in ReasonColumns(reasonCount))
            {
                chunk.Field(column);
            }

            chunk.EndRow();
            long rows = 0;
            busy.Stop();
            await foreach (var (scored, ids) in pending.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                var (p, _, reasonIndex, reasonLost) = await scored.ConfigureAwait(false);
                busy.Start();
                FormatBatch(chunk, p, ids, idColumns.Count > 0, reasonIndex, reasonLost, reasonCount, reasons, reasonNames, bandNames, modelId, options.Bands, bandCounts);
                if (chunk.Length >= ChunkBytes)
                {
                    busy.Stop();
                    await chunks.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
                    busy.Start();
                    chunk = NewChunk();
                }

                rows += p.Length;
                ids.Clear();
                spareIds.Add(ids);
                busy.Stop();
            }

            if (chunk.Length > 0)
            {
                await chunks.WriteAsync(chunk, cancellationToken).ConfigureAwait(false);
            }

            chunks.TryComplete();
            return (rows, busy.Elapsed.TotalSeconds);
        }
        catch (Exception ex)
        {
            // Stop the reader and the writer too: neither may wait for ever on a stage that is gone.
            chunks.TryComplete(ex);
            await stop.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Appends one batch's score rows to <paramref name="chunk"/> and counts them per grade.</summary>
    private static void FormatBatch(
        Utf8CsvWriter chunk, float[] p, BatchIds ids, bool hasIds, int[]? reasonIndex, float[]? reasonLost, int reasonCount, ReasonCodes? reasons,
        byte[][] reasonNames, byte[][] bandNames, byte[] modelId, RiskBands bands, long[] bandCounts)
    {
        var idBytes = ids.Fields.Written.Span;
        var start = 0;
        for (var r = 0; r < p.Length; r++)
        {
            var probability = p[r];
            var band = bands.IndexOf(probability);
            bandCounts[band]++;
            chunk.AppendRows(idBytes[start..ids.Ends[r]]);
            start = ids.Ends[r];
            if (hasIds)
            {
                chunk.ContinueRow();
            }

            chunk.Field(probability);
            chunk.SafeField(bandNames[band]);
            chunk.SafeField(modelId);
            for (var k = 0; k < reasonCount; k++)
            {
                var feature = reasonIndex![(r * reasonCount) + k];
                if (feature < 0)
                {
                    chunk.Empty();
                    chunk.Empty();
                }
                else
                {
                    chunk.SafeField(reasonNames[feature]);
                    chunk.Field(MathF.Round(reasonLost![(r * reasonCount) + k], reasons!.Decimals));
                }
            }

            chunk.EndRow();
        }
    }

    /// <summary>The writer: appends each chunk to the score part as it comes, hashing it; returns the SHA-256 and its time.</summary>
    private static async Task<(string Sha256, double Seconds)> WriteAsync(
        System.Threading.Channels.ChannelReader<Utf8CsvWriter> chunks, ObjectWriter output, System.Collections.Concurrent.ConcurrentBag<Utf8CsvWriter> spareChunks, CancellationTokenSource stop)
    {
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var busy = new Stopwatch();
            await foreach (var chunk in chunks.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                busy.Start();
                hash.AppendData(chunk.Written.Span);
                await output.WriteAsync(chunk.Written, stop.Token).ConfigureAwait(false);
                chunk.Clear();
                spareChunks.Add(chunk);
                busy.Stop();
            }

            return (Convert.ToHexStringLower(hash.GetCurrentHash()), busy.Elapsed.TotalSeconds);
        }
        catch
        {
            // A failed write stops the formatter and the reader, which would otherwise wait on a full channel.
            await stop.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Runs one batch on the first free session, on a pool thread; then frees its place and its buffer.</summary>
    private static Task<BatchResult> RunBatch(
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
                            reasons.Top(data.AsSpan(0, rows * f), rows, f, reasonCount, index, lost);
                        }

                        return new BatchResult(p, clock.Elapsed.TotalSeconds, index, lost);
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
    /// Reads a curated part's rows, as they stream in, straight into batches of model input (no allocation per row):
    /// features by name in the model's order, missing values imputed as the manifest says; each row's id fields are
    /// kept, as CSV, with its batch for the score part.
    /// </summary>
    private sealed class PartReader : IDisposable
    {
        private readonly int[] _idPositions;
        private CuratedPartReader? _reader;

        public PartReader(IReadOnlyList<string> idColumns, string path, Stream content, ModelManifest model, int batchRows)
        {
            var clock = Stopwatch.StartNew();
            try
            {
                _reader = model.OpenReader(new NonClosingStream(content), $"Curated part {path}");
            }
            catch (CuratedDataException ex)
            {
                throw new ModelException($"{ex.Message} Model {model.Id} needs it.", ex);
            }

            _idPositions = [.. idColumns.Select(_reader.Position).Where(i => i >= 0)];
            IdColumns = idColumns;
            Features = model.Features.Count;
            Seconds = clock.Elapsed.TotalSeconds;
        }

        /// <summary>Features per row.</summary>
        public int Features { get; }

        /// <summary>The run's id columns, which head each score row.</summary>
        public IReadOnlyList<string> IdColumns { get; }

        /// <summary>Time spent reading and parsing (the input's own reads included).</summary>
        public double Seconds { get; private set; }

        /// <summary>Reads up to <paramref name="rows"/> rows into <paramref name="data"/> (rows × features) and their ids into <paramref name="ids"/>; 0 at the end.</summary>
        public int Read(float[] data, int rows, BatchIds ids)
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
                        ids.Fields.Field(_reader[position]);
                    }

                    ids.Ends[n] = ids.Fields.Length;
                    ids.Fields.StartNewRowWithoutNewline();
                    n++;
                }
            }
            catch (CuratedDataException ex)
            {
                throw new ModelException(ex.Message, ex);
            }

            ids.Count = n;
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

    /// <summary>Lets the CSV reader close its view of the part without closing the hashing stream the caller still reads from.</summary>
    private sealed class NonClosingStream(Stream inner) : FinServerless.Datasets.ReadOnlyStream
    {
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

        public override int Read(Span<byte> buffer) => inner.Read(buffer);
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
