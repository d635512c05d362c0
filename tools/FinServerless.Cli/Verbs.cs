using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using FinServerless.Contracts;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Csv;
using FinServerless.Datasets.Ingest;
using FinServerless.Datasets.Profiling;
using FinServerless.Connections;

namespace FinServerless.Cli;

/// <summary>The CLI's verbs. Exit codes: 0 done (curated or duplicate), 3 the file was rejected, 2 bad usage, 1 failure.</summary>
internal static class Verbs
{
    private const string Usage = """
        finserverless <verb> [options]

          ingest --file PATH --contract PATH [--out DIR] [--run-id ID] [--reference PROFILE.json] [--workers N] [--json]
              validate, normalize, profile and commit a local file into DIR (default ./finserverless-out),
              in the same layout as the blob containers (curated/, quarantine/)
          ingest --blob inbox-{partner}/{dataset}/{file} [--connection STRING] [--json]
              ingest a blob exactly as the function app does (contract from contracts/{partner}/{dataset}.json);
              the connection defaults to the AzureWebJobsStorage setting
          score --root DIR --run RUN_MANIFEST --model NAME@VERSION|NAME@champion [--batch N] [--partitions N] [--shared-pool true|false] [--engine auto|onnxruntime|tree-avx512|tree-avx2|tree-scalar] [--json]
              score a curated run in DIR (the layout ingest writes) with a registered model (DIR/models/...)
          score --root DIR --file PATH --contract PATH --model NAME@VERSION [--json]
              ingest a raw file into DIR first, then score the curated run
        """ + "\n" + PartnerVerbs.Usage;

    public static async Task<int> RunAsync(string[] args)
    {
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };

        try
        {
            return args.FirstOrDefault() switch
            {
                "ingest" => await IngestAsync(new Options(args[1..]), cancel.Token),
                "score" => await ScoreAsync(new Options(args[1..]), cancel.Token),
                "partner" => await PartnerVerbs.RunAsync(args[1..], Console.Out, Console.Error, Environment.GetEnvironmentVariable, cancel.Token),
                null or "-h" or "--help" or "help" => Print(0, Usage),
                var verb => Print(2, $"Unknown verb '{verb}'.\n\n{Usage}"),
            };
        }
        catch (UsageException ex)
        {
            return Print(2, $"{ex.Message}\n\n{Usage}");
        }
        catch (Exception ex) when (ex is ContractException or CsvFormatException or FinServerless.Scoring.ModelException or FinServerless.Native.NativeLibraryNotFoundException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException or IOException or Azure.RequestFailedException or InvalidOperationException or ArgumentException)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 1;
        }
    }

    private static async Task<int> IngestAsync(Options options, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var cpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
        var json = options.Flag("--json");
        IngestOutcome outcome;
        long inputBytes;
        string where;
        if (options.Get("--blob") is { } blobPath)
        {
            var connection = options.Get("--connection") ?? Environment.GetEnvironmentVariable("AzureWebJobsStorage")
                ?? throw new UsageException("--blob needs --connection or the AzureWebJobsStorage setting.");
            var service = StorageConnection.FromConnectionString(connection).CreateBlobServiceClient();
            var slash = blobPath.IndexOf('/');
            InboxFile inboxFile;
            try
            {
                inboxFile = slash > 0 ? InboxFile.Parse(blobPath[..slash], blobPath[(slash + 1)..]) : throw new InvalidNameException("--blob", NameKind.File, "it must be container/path");
            }
            catch (InvalidNameException ex)
            {
                throw new UsageException($"--blob must be inbox-{{partner}}/{{dataset}}/{{file}}, for example inbox-acme/loans/2026-11-22.csv: {ex.Reason}.");
            }

            outcome = await new FinServerless.Datasets.Ingest.BlobIngestor(service).IngestAsync(inboxFile, Progress(json), cancellationToken);
            inputBytes = outcome.Manifest?.Input.Bytes ?? outcome.Report?.Input.Bytes ?? 0;
            where = service.Uri.ToString();
        }
        else
        {
            var file = options.Get("--file") ?? throw new UsageException("ingest needs --file PATH or --blob PATH.");
            var contractPath = options.Get("--contract") ?? throw new UsageException("ingest --file needs --contract PATH.");
            if (!File.Exists(file))
            {
                throw new UsageException($"--file '{file}' does not exist.");
            }

            var contract = DatasetContract.Load(contractPath);
            var output = new FolderRunOutput(options.Get("--out") ?? "finserverless-out");
            var ingestOptions = Progress(json) with { ContractPath = contractPath };
            if (options.Get("--workers") is { } workers)
            {
                ingestOptions = ingestOptions with { Workers = int.Parse(workers, CultureInfo.InvariantCulture) };
            }
            if (options.Get("--reference") is { } referencePath)
            {
                var profile = JsonSerializer.Deserialize<DatasetProfile>(File.ReadAllBytes(referencePath), RunManifest.JsonOptions)
                              ?? throw new UsageException($"--reference '{referencePath}' is not a profile.");
                ingestOptions = ingestOptions with { Reference = (profile, referencePath) };
            }

            var runId = options.Get("--run-id") is { } given
                ? Name(NameKind.Run, given, "--run-id")
                : IngestEngine.RunIdFor($"{Path.GetFullPath(file)}@{File.GetLastWriteTimeUtc(file):O}@{new FileInfo(file).Length}", contract);
            // Unbuffered: ingest reads in blocks of about a megabyte, which a stream buffer would only copy once more.
            await using var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
            inputBytes = input.Length;
            outcome = await IngestEngine.RunAsync(input, file, contract, runId, output, ingestOptions, cancellationToken);
            where = output.Root;
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpuAtStart).TotalSeconds;
        var rows = outcome.Manifest?.Rows ?? outcome.Report?.Rows;
        var peak = PeakRssMiB();
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                state = outcome.State.ToString(),
                runId = outcome.RunId,
                message = outcome.Message,
                rowsRead = rows?.Read,
                rowsAccepted = rows?.Accepted,
                rowsRejected = rows?.Rejected,
                inputBytes,
                seconds,
                cpuSeconds,
                peakRssMiB = peak,
                manifest = outcome.ManifestPath,
                report = outcome.ReportPath,
            }));
        }
        else
        {
            Console.WriteLine(outcome.Message);
            Console.WriteLine($"  state     {outcome.State}");
            Console.WriteLine($"  rows      {rows?.Read:N0} read, {rows?.Accepted:N0} curated, {rows?.Rejected:N0} quarantined");
            if (outcome.ManifestPath is not null)
            {
                Console.WriteLine($"  manifest  {where}/{outcome.ManifestPath}");
            }

            if (outcome.ReportPath is not null)
            {
                Console.WriteLine($"  report    {where}/{outcome.ReportPath}");
            }

            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  took      {seconds:0.00} s ({inputBytes / 1e6 / seconds:0.0} MB/s), peak memory {peak:0} MiB"));
        }

        return outcome.State == IngestState.Rejected ? 3 : 0;
    }

    private static async Task<int> ScoreAsync(Options options, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var json = options.Flag("--json");
        var root = options.Get("--root") ?? throw new UsageException("score needs --root DIR (where curated runs and models are).");
        var reference = options.Get("--model") ?? throw new UsageException("score needs --model NAME@VERSION or NAME@champion.");
        var store = new FolderRunOutput(root);
        string runPath;
        double ingestSeconds = 0;
        if (options.Get("--file") is { } file)
        {
            var contractPath = options.Get("--contract") ?? throw new UsageException("score --file needs --contract PATH.");
            // Unbuffered: ingest reads in blocks of about a megabyte, which a stream buffer would only copy once more.
            await using var input = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
            var contract = DatasetContract.Load(contractPath);
            var ingest = await IngestEngine.RunAsync(input, file, contract, IngestEngine.RunIdFor($"{Path.GetFullPath(file)}@{new FileInfo(file).Length}", contract), store, Progress(quiet: true) with { ContractPath = contractPath }, cancellationToken);
            if (ingest.State == IngestState.Rejected)
            {
                Console.Error.WriteLine(ingest.Message);
                return 3;
            }

            runPath = ingest.ManifestPath ?? ingest.Report!.CuratedRun!.TrimEnd('/') + "/" + StorageLayout.ManifestFile;
            ingestSeconds = clock.Elapsed.TotalSeconds;
        }
        else
        {
            runPath = options.Get("--run") ?? throw new UsageException("score needs --run RUN_MANIFEST (relative to --root) or --file.");
        }

        try
        {
            var (partner, dataset, runName) = StorageLayout.ParseCuratedManifest(runPath, "--run");
            runPath = StorageLayout.CuratedManifest(partner, dataset, runName);
        }
        catch (InvalidNameException ex)
        {
            throw new UsageException($"--run {StorageName.Quote(runPath)}: {ex.Reason}.");
        }

        var runBytes = await store.ReadAsync(runPath, cancellationToken) ?? throw new UsageException($"--run '{runPath}' does not exist under {store.Root}.");
        var run = JsonSerializer.Deserialize<RunManifest>(runBytes, RunManifest.JsonOptions)!;
        var scoreOptions = new FinServerless.Scoring.ScoreOptions();
        if (options.Get("--batch") is { } batch)
        {
            scoreOptions = scoreOptions with { BatchRows = int.Parse(batch, CultureInfo.InvariantCulture) };
        }

        if (options.Get("--partitions") is { } partitions)
        {
            scoreOptions = scoreOptions with { Partitions = int.Parse(partitions, CultureInfo.InvariantCulture) };
        }

        if (options.Get("--shared-pool") is { } shared)
        {
            scoreOptions = scoreOptions with { SessionPerPartition = !bool.Parse(shared) };
        }

        if (Environment.GetEnvironmentVariable("FINSERVERLESS_MASTER_SCALE") is { Length: > 0 } bands)
        {
            scoreOptions = scoreOptions with { Bands = FinServerless.Scoring.RiskBands.Parse(bands) };
        }

        ModelReference modelRef;
        try
        {
            modelRef = ModelReference.Parse(reference, "--model");
        }
        catch (InvalidNameException ex)
        {
            throw new UsageException(ex.Message);
        }

        FinServerless.Scoring.Trees.ScoreEngine engine;
        try
        {
            engine = options.Get("--engine") is { } forced
                ? FinServerless.Scoring.Trees.ScoreEngines.Parse(forced, "--engine")
                : FinServerless.Scoring.Trees.ScoreEngines.Parse(Environment.GetEnvironmentVariable(FinServerless.Scoring.Trees.ScoreEngines.Setting));
        }
        catch (ArgumentException ex)
        {
            throw new UsageException(ex.Message);
        }

        using var model = await new FinServerless.Scoring.ModelStore(store, engine).LoadAsync(modelRef, cancellationToken: cancellationToken);
        var scoreClock = Stopwatch.StartNew();
        var scoreCpuAtStart = Process.GetCurrentProcess().TotalProcessorTime;
        var outcome = await FinServerless.Scoring.BatchScorer.ScoreRunAsync(run, runPath, store, model, scoreOptions, cancellationToken);
        var scoreSeconds = scoreClock.Elapsed.TotalSeconds;
        var scoreCpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - scoreCpuAtStart).TotalSeconds;
        var m = outcome.Manifest;
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                rows = m.Rows,
                parts = m.Parts.Count,
                model = model.Manifest.Id,
                alreadyDone = outcome.AlreadyDone,
                ingestSeconds,
                scoreSeconds,
                scoreCpuSeconds,
                ortRunSeconds = m.Timings.OrtRunSeconds,
                engine = model.Engine,
                readSeconds = m.Timings.ReadSeconds,
                parseSeconds = m.Timings.ParseSeconds,
                formatSeconds = m.Timings.FormatSeconds,
                writeSeconds = m.Timings.WriteSeconds,
                totalSeconds = clock.Elapsed.TotalSeconds,
                peakRssMiB = PeakRssMiB(),
                bands = m.Bands,
                manifest = outcome.ManifestPath,
            }));
        }
        else
        {
            Console.WriteLine($"{(outcome.AlreadyDone ? "already scored" : "scored")} {m.Rows:N0} rows of run {m.RunId} with {model.Manifest.Id}");
            Console.WriteLine($"  engine    {model.Engine}");
            Console.WriteLine($"  grades    {string.Join(", ", m.Bands.Select(b => $"{b.Key} {b.Value:N0}"))}");
            Console.WriteLine($"  manifest  {store.Describe(outcome.ManifestPath)}");
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  took      {scoreSeconds:0.00} s to score ({m.Rows / scoreSeconds:N0} rows/s; summed over partitions: read {m.Timings.ReadSeconds:0.00} s, parse {m.Timings.ParseSeconds:0.00} s, model {m.Timings.OrtRunSeconds:0.00} s, format {m.Timings.FormatSeconds:0.00} s, write {m.Timings.WriteSeconds:0.00} s), peak memory {PeakRssMiB():0} MiB"));
        }

        return 0;
    }

    /// <summary>Ingest options: the limits from the environment (FINSERVERLESS_INGEST_*), progress on stderr unless quiet.</summary>
    private static IngestOptions Progress(bool quiet) => IngestSettings.Apply(
        new IngestOptions { Progress = quiet ? null : rows => Console.Error.WriteLine($"  … {rows:N0} rows") },
        Environment.GetEnvironmentVariable);

    private static double PeakRssMiB()
    {
        if (!File.Exists("/proc/self/status"))
        {
            return double.NaN;
        }

        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
        return line is null ? double.NaN : double.Parse(line.Split(':', 2)[1].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024;
    }

    private static int Print(int code, string text)
    {
        (code == 0 ? Console.Out : Console.Error).WriteLine(text);
        return code;
    }

    private sealed class UsageException(string message) : Exception(message);

    private sealed class Options(string[] args)
    {
        public string? Get(string name)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        }

        public bool Flag(string name) => args.Contains(name);
    }

    /// <summary>A name from the command line, or a usage error naming the option.</summary>
    private static StorageName Name(NameKind kind, string text, string option)
    {
        try
        {
            return StorageName.Parse(kind, text, option);
        }
        catch (InvalidNameException ex)
        {
            throw new UsageException(ex.Message);
        }
    }
}
