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

            // Ours, end to end from the curated run, in its own process (peak memory is the scorer's).
            var ours = new List<JsonElement>();
            foreach (var (batch, partitions, perPartition) in new[] { (16_384, 2, true), (16_384, 2, false), (16_384, 1, false), (65_536, 1, false) })
            {
                if (Directory.Exists(Path.Combine(storeRoot, "scores")))
                {
                    Directory.Delete(Path.Combine(storeRoot, "scores"), recursive: true);
                }

                var r = await ProcessRunner.RunJsonAsync("dotnet", cli, "score", "--root", storeRoot, "--run", portfolioPath, "--model", "gmsc-xgboost@bench", "--batch", batch.ToString(CultureInfo.InvariantCulture), "--partitions", partitions.ToString(CultureInfo.InvariantCulture), "--shared-pool", perPartition ? "false" : "true", "--json");
                Console.WriteLine($"  FinServerless batch {batch}, {partitions} partition(s), {(perPartition ? "a session each" : "shared pool")}: {r.GetProperty("scoreSeconds").GetDouble():0.00} s, ORT Run {r.GetProperty("ortRunSeconds").GetDouble():0.00} s, peak {r.GetProperty("peakRssMiB").GetDouble():0} MiB");
                ours.Add(JsonDocument.Parse($"{{\"batch\":{batch},\"partitions\":{partitions},\"sessions\":\"{(perPartition ? "a single-thread session each" : "one shared pool")}\",\"r\":{r.GetRawText()}}}").RootElement.Clone());
            }

            // Bare ORT Run over the same rows: the shared pool with one stream of batches, then one single-thread
            // session per core running half the rows each (the other way to spend two cores).
            var (all, _) = Load(storeRoot, portfolio, withLabels: false);
            var count = all.Length / Features.Length;
            const int bareBatch = 16_384;
            double Bare(Func<InferenceSession> open, int streams)
            {
                var sessions = Enumerable.Range(0, streams).Select(_ => open()).ToArray();
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
                foreach (var session in sessions)
                {
                    session.Dispose();
                }

                return seconds;
            }

            var bareSeconds = Bare(() => OnnxSessions.Load(onnx), 1);
            var perCoreSeconds = Bare(() => OnnxSessions.Load(onnx, SessionSettings.SingleThread), Environment.ProcessorCount);
            Console.WriteLine($"  bare ORT Run: {bareSeconds:0.00} s (shared pool); {perCoreSeconds:0.00} s ({Environment.ProcessorCount} single-thread sessions)");
            var small = SmallCalls(onnx, all, calls: 2_000);
            Console.WriteLine($"  100-row calls: managed Run {small.RunMicros:0} µs, IOBinding {small.BoundMicros:0} µs per call");
            all = [];

            Console.WriteLine("  pandas + XGBoost: running…");
            var python = await ProcessRunner.RunJsonAsync("/usr/bin/python3", Path.Combine(root, "bench", "score", "pandas_xgboost_score.py"), raw, modelJson, Path.Combine(work.FullName, "python-scores.csv"), "gmsc-xgboost@bench");
            Console.WriteLine($"  pandas + XGBoost: {python.GetProperty("seconds").GetDouble():0.00} s (predict {python.GetProperty("predictSeconds").GetDouble():0.00} s), peak {python.GetProperty("peakRssMiB").GetDouble():0} MiB");

            var report = Report(portfolio.Rows.Accepted, rounds, ingestSeconds, ours, bareSeconds, perCoreSeconds, python, small);
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

    private static (float[] X, float[] Y) Load(string storeRoot, RunManifest run, bool withLabels)
    {
        var x = new List<float>();
        var y = new List<float>();
        foreach (var part in run.Parts)
        {
            using var reader = new StreamReader(Path.Combine(storeRoot, part.Path));
            var header = reader.ReadLine()!.Split(',');
            var positions = Features.Select(f => Array.IndexOf(header, f)).ToArray();
            var target = Array.IndexOf(header, run.TargetColumn);
            string? line;
            while ((line = reader.ReadLine()) is not null)
            {
                var cells = line.Split(',');
                foreach (var p in positions)
                {
                    x.Add(cells[p].Length == 0 ? float.NaN : float.Parse(cells[p], CultureInfo.InvariantCulture));
                }

                if (withLabels)
                {
                    y.Add(cells[target].Length == 0 ? 0 : float.Parse(cells[target], CultureInfo.InvariantCulture));
                }
            }
        }

        return (x.ToArray(), y.ToArray());
    }

    /// <summary>
    /// Per-call latency of 100-row calls, as ScoreBatch makes them, on one single-thread session: the managed Run
    /// with an OrtValue over the caller's buffer made per call, against an IOBinding bound once (input and output
    /// tensors over fixed pinned buffers, refilled in place).
    /// </summary>
    private static (double RunMicros, double BoundMicros) SmallCalls(byte[] onnx, float[] all, int calls)
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

        return (run, clock.Elapsed.TotalMicroseconds / calls);
    }

    private static string Report(long rows, int rounds, double ingestSeconds, List<JsonElement> ours, double bareSeconds, double perCoreSeconds, JsonElement python, (double RunMicros, double BoundMicros) small)
    {
        var sb = new StringBuilder();
        var best = ours.MinBy(o => o.GetProperty("r").GetProperty("scoreSeconds").GetDouble());
        var bestSeconds = best.GetProperty("r").GetProperty("scoreSeconds").GetDouble();
        var pySeconds = python.GetProperty("seconds").GetDouble();
        sb.AppendLine("# Scoring benchmark: 5M rows, 300-tree XGBoost model, ONNX Runtime vs pandas + XGBoost");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Machine: {MachineInfo.Describe()}; ONNX Runtime {OnnxSessions.Version} (CPU), XGBoost {Booster.LibraryVersion}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Model: XGBoost binary:logistic, {rounds} rounds, depth 6, hist, trained through the C API on Give Me Some Credit (150k rows, 10 features), exported to a TreeEnsembleClassifier");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Rows: {rows:N0} (Give Me Some Credit rows repeated), curated by our ingest in {ingestSeconds:0.0} s (not included below)");
        sb.AppendLine("- FinServerless: `finserverless score` on the curated run, own process: read parts → map features → ORT Run in batches → write id, probability, band, model → manifest");
        sb.AppendLine("- Bare Run: the same rows already in memory as float[N,10], ORT Run in batches of 16,384, one after another, nothing else");
        sb.AppendLine("- pandas + XGBoost: bench/score/pandas_xgboost_score.py (read raw CSV, same missing/sentinel handling, XGBoost inplace_predict with 2 threads, write the same columns)");
        sb.AppendLine("- Command: `./eng/bench.sh score`");
        sb.AppendLine();
        sb.AppendLine("| run | seconds | rows/s | of which ORT Run | peak RSS MiB |");
        sb.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var o in ours)
        {
            var r = o.GetProperty("r");
            var s = r.GetProperty("scoreSeconds").GetDouble();
            sb.AppendLine(CultureInfo.InvariantCulture, $"| FinServerless, batch {o.GetProperty("batch").GetInt32():N0}, {o.GetProperty("partitions").GetInt32()} partition(s) at once, {o.GetProperty("sessions").GetString()} | {s:0.00} | {rows / s:N0} | {r.GetProperty("ortRunSeconds").GetDouble():0.00} (summed) | {r.GetProperty("peakRssMiB").GetDouble():0} |");
        }

        sb.AppendLine(CultureInfo.InvariantCulture, $"| bare ORT Run, batch 16,384, shared pool | {bareSeconds:0.00} | {rows / bareSeconds:N0} | {bareSeconds:0.00} | — |");
        sb.AppendLine(CultureInfo.InvariantCulture, $"| bare ORT Run, batch 16,384, one single-thread session per core | {perCoreSeconds:0.00} | {rows / perCoreSeconds:N0} | {perCoreSeconds:0.00} | — |");
        sb.AppendLine(CultureInfo.InvariantCulture, $"| {python.GetProperty("side").GetString()} | {pySeconds:0.00} | {rows / pySeconds:N0} | predict {python.GetProperty("predictSeconds").GetDouble():0.00} | {python.GetProperty("peakRssMiB").GetDouble():0} |");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- End-to-end vs bare Run: **{bestSeconds / Math.Min(bareSeconds, perCoreSeconds):0.00}×** (best FinServerless run / fastest bare Run).");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Throughput vs pandas + XGBoost: **{pySeconds / bestSeconds:0.00}×**.");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Small batches (ScoreBatch's shape): 100-row calls on one single-thread session take **{small.RunMicros:0} µs** with the managed Run (an OrtValue over the caller's buffer per call) and **{small.BoundMicros:0} µs** with an IOBinding bound once (2,000 calls each, after 100 warm-up calls).");
        sb.AppendLine("- Tuning tried: batch 16,384 vs 65,536 (no difference), one vs two partitions at once, one shared two-thread pool vs one single-thread session per partition (the latter is faster for tree ensembles and is the default).");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- XGBoost's own predictor took {python.GetProperty("predictSeconds").GetDouble():0.00} s for the rows ORT's tree-ensemble kernel needs {Math.Min(bareSeconds, perCoreSeconds):0.00} s for: on this machine ORT is the limit of our scoring time.");
        return sb.ToString();
    }
}
