using FinServerless.Datasets.Output;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FinServerless.Contracts;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Native;
using FinServerless.Onnx.Sessions;
using Microsoft.ML.OnnxRuntime;
using FinServerless.Onnx.Writer;
using FinServerless.Scoring;
using FinServerless.XGBoost;

namespace FinServerless.Benchmarks;

/// <summary>
/// Scoring 5 million Give Me Some Credit-shaped rows with a 300-round depth-6 XGBoost model: our scorer
/// (ONNX Runtime) end to end, the bare ORT Run time for the same rows, and pandas + XGBoost's own predictor.
/// </summary>
internal static class ScoreBenchmark
{
    /// <summary>Runs of the default layout and of the per-core bare Run, alternated.</summary>
    private const int Repeats = 3;

    private static readonly string[] Features =
    [
        "RevolvingUtilizationOfUnsecuredLines", "age", "NumberOfTime30-59DaysPastDueNotWorse", "DebtRatio", "MonthlyIncome",
        "NumberOfOpenCreditLinesAndLoans", "NumberOfTimes90DaysLate", "NumberRealEstateLoansOrLines", "NumberOfTime60-89DaysPastDueNotWorse", "NumberOfDependents",
    ];

    public static async Task<int> RunAsync(string[] args)
    {
        var root = RepositoryLayout.Root;
        var source = RepositoryLayout.GmscTrainingPath;
        if (!File.Exists(source))
        {
            Console.WriteLine($"skipped: the scoring benchmark needs {source} (Give Me Some Credit; not redistributable).");
            return 0;
        }

        var rows = BenchArgs.Int(args, "--rows", 5_000_000);
        var rounds = BenchArgs.Int(args, "--rounds", 300);
        var cli = Path.Combine(root, "tools", "FinServerless.Cli", "bin", "Release", "net10.0", "finserverless.dll");
        var contractPath = Path.Combine(root, "samples", "give-me-some-credit", "contract.json");
        var contract = DatasetContract.Load(contractPath);
        var work = Directory.CreateTempSubdirectory("finserverless-score-bench-");
        try
        {
            var storeRoot = Path.Combine(work.FullName, "store");
            var store = new FolderRunOutput(storeRoot);

            // The model: 300 rounds, depth 6, on the real training file, curated by our ingest.
            Console.WriteLine($"training XGBoost ({rounds} rounds, depth 6) on {source}");
            RunManifest train;
            await using (var input = File.OpenRead(source))
            {
                train = (await IngestEngine.RunAsync(input, source, contract, StorageName.Run("train"), store)).Manifest!;
            }

            var (x, y) = Load(storeRoot, train, withLabels: true);
            using var dtrain = new DMatrix(x, y.Length, Features.Length, y);
            using var booster = new Booster(dtrain)
                .SetParameter("objective", "binary:logistic").SetParameter("tree_method", "hist").SetParameter("max_depth", 6)
                .SetParameter("eta", 0.05).SetParameter("nthread", 2).SetParameter("seed", 7);
            for (var i = 0; i < rounds; i++)
            {
                booster.UpdateOneIteration(i, dtrain);
            }

            var modelJson = Path.Combine(work.FullName, "model.json");
            var json = booster.SaveJson();
            await File.WriteAllBytesAsync(modelJson, json);
            var manifest = new ModelManifest
            {
                Name = "gmsc-xgboost",
                Version = "bench",
                Trainer = "xgboost",
                Features = Features.Select(f => new FeatureSpec(f)).ToList(),
                Onnx = new OnnxArtifact { Sha256 = "-", ProbabilityOutput = XGBoostTreeExport.ProbabilitiesOutput, ProbabilityColumn = 1 },
            };
            var onnx = XGBoostTreeExport.Convert(json, Features);
            await new ModelStore(store).RegisterAsync(manifest, onnx);

            // The portfolio: 5M rows, curated by our ingest (timed separately).
            var raw = Path.Combine(work.FullName, "portfolio.csv");
            IngestBenchmark.WriteRepeated(source, raw, rows);
            var ingestClock = Stopwatch.StartNew();
            RunManifest portfolio;
            string portfolioPath;
            await using (var input = File.OpenRead(raw))
            {
                var outcome = await IngestEngine.RunAsync(input, raw, contract, StorageName.Run("portfolio"), store);
                portfolio = outcome.Manifest!;
                portfolioPath = outcome.ManifestPath!;
            }

            var ingestSeconds = ingestClock.Elapsed.TotalSeconds;
            Console.WriteLine($"portfolio: {portfolio.Rows.Accepted:N0} curated rows in {ingestSeconds:0.0} s");

            // Bare ORT Run over the same rows, already in memory as float[N, 10]: the shared pool with one stream of
            // batches, or one single-thread session per core running half the rows each (the other way to spend two cores).
            var (all, _) = Load(storeRoot, portfolio, withLabels: false);
            var count = all.Length / Features.Length;
            const int bareBatch = 16_384;
            (double Seconds, double CpuSeconds) Bare(Func<InferenceSession> open, int streams)
            {
                var sessions = Enumerable.Range(0, streams).Select(_ => open()).ToArray();
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                Parallel.For(0, streams, new ParallelOptions { MaxDegreeOfParallelism = streams }, s =>
                {
                    var from = count * s / streams;
                    var to = count * (s + 1) / streams;
                    for (var start = from; start < to; start += bareBatch)
                    {
                        var n = Math.Min(bareBatch, to - start);
                        using var outputs = OnnxSessions.Run(sessions[s], sessions[s].InputNames[0], all.AsMemory(start * Features.Length, n * Features.Length), n, Features.Length, sessions[s].OutputNames[1]);
                    }
                });
                var seconds = clock.Elapsed.TotalSeconds;
                var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
                foreach (var session in sessions)
                {
                    session.Dispose();
                }

                return (seconds, cpuSeconds);
            }

            // Ours, end to end from the curated run, in its own process (peak memory is the scorer's).
            async Task<JsonElement> Ours(int batch, int partitions, bool perPartition)
            {
                if (Directory.Exists(Path.Combine(storeRoot, "scores")))
                {
                    Directory.Delete(Path.Combine(storeRoot, "scores"), recursive: true);
                }

                var r = await ProcessRunner.RunJsonAsync("dotnet", cli, "score", "--root", storeRoot, "--run", portfolioPath, "--model", "gmsc-xgboost@bench", "--batch", batch.ToString(CultureInfo.InvariantCulture), "--partitions", partitions.ToString(CultureInfo.InvariantCulture), "--shared-pool", perPartition ? "false" : "true", "--json");
                Console.WriteLine($"  FinServerless batch {batch}, {partitions} partition(s), {(perPartition ? "a session each" : "shared pool")}: {r.GetProperty("scoreSeconds").GetDouble():0.00} s (CPU {r.GetProperty("scoreCpuSeconds").GetDouble():0.00} s), ORT Run {r.GetProperty("ortRunSeconds").GetDouble():0.00} s, peak {r.GetProperty("peakRssMiB").GetDouble():0} MiB");
                return JsonDocument.Parse($"{{\"batch\":{batch},\"partitions\":{partitions},\"sessions\":\"{(perPartition ? "a single-thread session each" : "one shared pool")}\",\"r\":{r.GetRawText()}}}").RootElement.Clone();
            }

            // The headline pair, the default layout against the per-core bare Run, alternated so that both see the
            // same machine (it is shared: one-off runs of either differ by 10-20% from minute to minute).
            var defaults = new List<JsonElement>();
            var perCore = new List<(double Seconds, double CpuSeconds)>();
            for (var i = 0; i < Repeats; i++)
            {
                defaults.Add(await Ours(16_384, 2, perPartition: true));
                perCore.Add(Bare(() => OnnxSessions.Load(onnx, SessionSettings.SingleThread), Environment.ProcessorCount));
                Console.WriteLine($"  bare ORT Run, {Environment.ProcessorCount} single-thread sessions: {perCore[^1].Seconds:0.00} s (CPU {perCore[^1].CpuSeconds:0.00} s)");
            }

            var ours = new List<JsonElement>();
            foreach (var (batch, partitions, perPartition) in new[] { (16_384, 2, false), (16_384, 1, false), (65_536, 1, false) })
            {
                ours.Add(await Ours(batch, partitions, perPartition));
            }

            var bare = Bare(() => OnnxSessions.Load(onnx), 1);
            Console.WriteLine($"  bare ORT Run: {bare.Seconds:0.00} s (shared pool)");
            var small = SmallCalls(onnx, all, calls: 2_000);
            Console.WriteLine($"  100-row calls: managed Run {small.RunMicros:0} µs, IOBinding {small.BoundMicros:0} µs, BoundRunner {small.RunnerMicros:0} µs per call");
            all = [];

            Console.WriteLine("  pandas + XGBoost: running…");
            var python = await ProcessRunner.RunJsonAsync("/usr/bin/python3", Path.Combine(root, "bench", "score", "pandas_xgboost_score.py"), raw, modelJson, Path.Combine(work.FullName, "python-scores.csv"), "gmsc-xgboost@bench");
            Console.WriteLine($"  pandas + XGBoost: {python.GetProperty("seconds").GetDouble():0.00} s (predict {python.GetProperty("predictSeconds").GetDouble():0.00} s), peak {python.GetProperty("peakRssMiB").GetDouble():0} MiB");

            var report = Report(portfolio.Rows.Accepted, rounds, ingestSeconds, defaults, ours, perCore, bare, python, small);
            await File.WriteAllTextAsync(Path.Combine(root, "bench", "results", "score.md"), report);
            Console.WriteLine();
            Console.WriteLine(report);
            return 0;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>The run's features (and labels) through the platform's one curated-part reader, as training and scoring read them.</summary>
    private static (float[] X, float[] Y) Load(string storeRoot, RunManifest run, bool withLabels)
    {
        var x = new List<float>();
        var y = new List<float>();
        var row = new float[Features.Length];
        foreach (var part in run.Parts)
        {
            using var reader = new CuratedPartReader(File.ReadAllBytes(Path.Combine(storeRoot, part.Path)), part.Path, Features, target: withLabels ? run.TargetColumn : null);
            while (reader.ReadRow(row))
            {
                x.AddRange(row);
                if (withLabels)
                {
                    y.Add(reader.Label);
                }
            }
        }

        return (x.ToArray(), y.ToArray());
    }

    /// <summary>
    /// Per-call latency of 100-row calls, as ScoreBatch makes them, on one single-thread session: the managed Run
    /// with an OrtValue over the caller's buffer made per call, against an IOBinding bound once (input and output
    /// tensors over fixed pinned buffers, refilled in place), and against the <see cref="BoundRunner"/> ScoreBatch uses.
    /// </summary>
    private static (double RunMicros, double BoundMicros, double RunnerMicros) SmallCalls(byte[] onnx, float[] all, int calls)
    {
        const int n = 100;
        var f = Features.Length;
        using var session = OnnxSessions.Load(onnx, SessionSettings.SingleThread);
        var input = session.InputNames[0];
        var output = session.OutputNames[1];
        var buffer = new float[n * f];
        void Fill(int call) => Array.Copy(all, (call * n * f) % (all.Length - buffer.Length), buffer, 0, buffer.Length);

        for (var i = 0; i < 100; i++)
        {
            Fill(i);
            using var warm = OnnxSessions.Run(session, input, buffer, n, f, output);
        }

        var clock = Stopwatch.StartNew();
        for (var i = 0; i < calls; i++)
        {
            Fill(i);
            using var result = OnnxSessions.Run(session, input, buffer, n, f, output);
        }

        var run = clock.Elapsed.TotalMicroseconds / calls;

        var probabilities = new float[n * 2];
        using var inputTensor = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, buffer.AsMemory(), [n, f]);
        using var outputTensor = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, probabilities.AsMemory(), [n, 2]);
        using var binding = session.CreateIoBinding();
        binding.BindInput(input, inputTensor);
        binding.BindOutput(output, outputTensor);
        binding.BindOutputToDevice(session.OutputNames[0], OrtMemoryInfo.DefaultInstance);
        using var runOptions = new RunOptions();
        for (var i = 0; i < 100; i++)
        {
            Fill(i);
            session.RunWithBinding(runOptions, binding);
        }

        clock.Restart();
        for (var i = 0; i < calls; i++)
        {
            Fill(i);
            session.RunWithBinding(runOptions, binding);
        }

        var bound = clock.Elapsed.TotalMicroseconds / calls;

        // ScoreBatch's path: a BoundRunner (the caller's rows copied into a pooled binding, the output copied out).
        using var runner = new BoundRunner(session, input, f, output, 1_024);
        for (var i = 0; i < 100; i++)
        {
            Fill(i);
            runner.Run(buffer, n, probabilities);
        }

        clock.Restart();
        for (var i = 0; i < calls; i++)
        {
            Fill(i);
            runner.Run(buffer, n, probabilities);
        }

        return (run, bound, clock.Elapsed.TotalMicroseconds / calls);
    }

    private static string Report(
        long rows, int rounds, double ingestSeconds, List<JsonElement> defaults, List<JsonElement> ours, List<(double Seconds, double CpuSeconds)> perCore, (double Seconds, double CpuSeconds) bare, JsonElement python, (double RunMicros, double BoundMicros, double RunnerMicros) small)
    {
        static double Seconds(JsonElement o) => o.GetProperty("r").GetProperty("scoreSeconds").GetDouble();
        static double Cpu(JsonElement o) => o.GetProperty("r").GetProperty("scoreCpuSeconds").GetDouble();
        static string List(IEnumerable<double> values) => string.Join(", ", values.Select(v => v.ToString("0.00", CultureInfo.InvariantCulture)));
        static double Median(IEnumerable<double> values)
        {
            var sorted = values.Order().ToArray();
            return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
        }

        var sb = new StringBuilder();
        var best = defaults.MinBy(Seconds);
        var bestSeconds = Seconds(best);
        var bestBare = perCore.MinBy(b => b.Seconds);
        var pySeconds = python.GetProperty("seconds").GetDouble();
        sb.AppendLine("# Scoring benchmark: 5M rows, 300-tree XGBoost model, ONNX Runtime vs pandas + XGBoost");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Machine: {MachineInfo.Describe()}; ONNX Runtime {OnnxSessions.Version} (CPU), XGBoost {Booster.LibraryVersion}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Model: XGBoost binary:logistic, {rounds} rounds, depth 6, hist, trained through the C API on Give Me Some Credit (150k rows, 10 features), exported to a TreeEnsembleClassifier");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Rows: {rows:N0} (Give Me Some Credit rows repeated), curated by our ingest in {ingestSeconds:0.0} s (not included below)");
        sb.AppendLine("- FinServerless: `finserverless score` on the curated run, own process: read parts → map features → ORT Run in batches (every batch of the parts in flight to the first free session) → write id, probability, band, model → manifest");
        sb.AppendLine("- Bare Run: the same rows already in memory as float[N,10], ORT Run in batches of 16,384, one after another, nothing else");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- The default layout and the per-core bare Run ran {defaults.Count} times each, alternated (the machine is shared, and a one-off run of either varies by 10–20%); the table shows the best of each, all runs are listed below it");
        sb.AppendLine("- pandas + XGBoost: bench/score/pandas_xgboost_score.py (read raw CSV, same missing/sentinel handling, XGBoost inplace_predict with 2 threads, write the same columns)");
        sb.AppendLine("- Command: `./eng/bench.sh score`");
        sb.AppendLine();
        sb.AppendLine("| run | seconds | rows/s | of which ORT Run | CPU seconds | peak RSS MiB |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var (o, i) in ours.Prepend(best).Select((o, i) => (o, i)))
        {
            var r = o.GetProperty("r");
            var s = Seconds(o);
            var label = i == 0 ? $" (the default; best of {defaults.Count})" : string.Empty;
            sb.AppendLine(CultureInfo.InvariantCulture, $"| FinServerless, batch {o.GetProperty("batch").GetInt32():N0}, {o.GetProperty("partitions").GetInt32()} partition(s) at once, {o.GetProperty("sessions").GetString()}{label} | {s:0.00} | {rows / s:N0} | {r.GetProperty("ortRunSeconds").GetDouble():0.00} (summed) | {Cpu(o):0.00} | {r.GetProperty("peakRssMiB").GetDouble():0} |");
        }

        sb.AppendLine(CultureInfo.InvariantCulture, $"| bare ORT Run, batch 16,384, shared pool | {bare.Seconds:0.00} | {rows / bare.Seconds:N0} | {bare.Seconds:0.00} | {bare.CpuSeconds:0.00} | — |");
        sb.AppendLine(CultureInfo.InvariantCulture, $"| bare ORT Run, batch 16,384, one single-thread session per core (best of {perCore.Count}) | {bestBare.Seconds:0.00} | {rows / bestBare.Seconds:N0} | {bestBare.Seconds:0.00} | {bestBare.CpuSeconds:0.00} | — |");
        sb.AppendLine(CultureInfo.InvariantCulture, $"| {python.GetProperty("side").GetString()} | {pySeconds:0.00} | {rows / pySeconds:N0} | predict {python.GetProperty("predictSeconds").GetDouble():0.00} | — | {python.GetProperty("peakRssMiB").GetDouble():0} |");
        sb.AppendLine();
        var fastestBare = Math.Min(bare.Seconds, bestBare.Seconds);
        sb.AppendLine(CultureInfo.InvariantCulture, $"- End-to-end vs bare Run: **{bestSeconds / fastestBare:0.00}×** (best FinServerless run / fastest bare Run); medians {Median(defaults.Select(Seconds)) / Median(perCore.Select(b => b.Seconds)):0.00}×; CPU time {Cpu(best) / bestBare.CpuSeconds:0.00}×.");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Every alternated run: FinServerless {List(defaults.Select(Seconds))} s (CPU {List(defaults.Select(Cpu))} s); bare per-core Run {List(perCore.Select(b => b.Seconds))} s (CPU {List(perCore.Select(b => b.CpuSeconds))} s).");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Cores each run got (CPU seconds / seconds; {Environment.ProcessorCount} when the machine is otherwise idle): FinServerless {List(defaults.Select(o => Cpu(o) / Seconds(o)))}; bare {List(perCore.Select(b => b.CpuSeconds / b.Seconds))}. Runs that got well under {Environment.ProcessorCount} shared the machine with other work, and their seconds say more about that work than about the scorer.");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Throughput vs pandas + XGBoost: **{pySeconds / bestSeconds:0.00}×**.");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Small batches (ScoreBatch's shape): 100-row calls on one single-thread session take **{small.RunMicros:0} µs** with the managed Run (an OrtValue over the caller's buffer per call), **{small.BoundMicros:0} µs** with an IOBinding bound once, and **{small.RunnerMicros:0} µs** through `BoundRunner`, ScoreBatch's path (rows copied into a pooled binding, output copied out) (2,000 calls each, after 100 warm-up calls).");
        sb.AppendLine("- Tuning tried: batch 16,384 vs 65,536, one vs two partitions at once, one shared two-thread pool vs one single-thread session per partition (the latter is faster for tree ensembles and is the default).");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- XGBoost's own predictor took {python.GetProperty("predictSeconds").GetDouble():0.00} s for the rows ORT's tree-ensemble kernel needs {fastestBare:0.00} s for: on this machine ORT is the limit of our scoring time.");
        return sb.ToString();
    }
}
