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
using FinServerless.Scoring.Trees;
using FinServerless.XGBoost;

namespace FinServerless.Benchmarks;

/// <summary>
/// Scoring 5 million Give Me Some Credit-shaped rows with a 300-round depth-6 XGBoost model: the kernels side by side (tree fast path, ORT, XGBoost) and our scorer
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
        // --work DIR keeps the store (model, curated runs) for scoring by hand afterwards; --quick runs only the end-to-end
        // comparison (no kernels, no small calls, no pandas) and writes no results file.
        var keep = BenchArgs.String(args, "--work");
        var quick = BenchArgs.Flag(args, "--quick");
        var work = keep is null ? Directory.CreateTempSubdirectory("finserverless-score-bench-") : Directory.CreateDirectory(keep);
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
            // The same model explained: TreeSHAP reason codes on every row (4 per row, the scoring default).
            await new ModelStore(store).RegisterAsync(manifest with { Version = "bench-reasons", Reasons = ReasonModel.TreeShapModel }, onnx);

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
            async Task<JsonElement> Ours(string engine, string runPath, string version = "bench")
            {
                if (Directory.Exists(Path.Combine(storeRoot, "scores")))
                {
                    Directory.Delete(Path.Combine(storeRoot, "scores"), recursive: true);
                }

                var r = await ProcessRunner.RunJsonAsync("dotnet", cli, "score", "--root", storeRoot, "--run", runPath, "--model", $"gmsc-xgboost@{version}", "--engine", engine, "--json");
                Console.WriteLine($"  FinServerless --engine {engine}: {r.GetProperty("scoreSeconds").GetDouble():0.00} s (CPU {r.GetProperty("scoreCpuSeconds").GetDouble():0.00} s), model {r.GetProperty("ortRunSeconds").GetDouble():0.00} s, peak {r.GetProperty("peakRssMiB").GetDouble():0} MiB; {r.GetProperty("engine").GetString()}");
                return r.Clone();
            }

            if (quick)
            {
                await Ours("auto", portfolioPath);
                await Ours("onnxruntime", portfolioPath);
                await Ours("auto", portfolioPath, "bench-reasons");
                return 0;
            }

            // The kernels on the same rows, already in memory as float[N, 10], on 1 and 2 threads: the tree fast path
            // (each kernel this CPU has), ORT's TreeEnsemble (one single-thread session per thread, batches of 16,384) and
            // XGBoost's own predictor (its DMatrix built beforehand, not timed). Alternated, best of three.
            var (all, _) = Load(storeRoot, portfolio, withLabels: false);
            var count = all.Length / Features.Length;
            var trees = TreeEnsemble.TryRead(onnx, out var why) ?? throw new InvalidOperationException(why);
            var kernels = new[] { TreeKernelKind.Avx512, TreeKernelKind.Avx2, TreeKernelKind.Scalar }
                .Select(k => TreeKernel.TryCreate(trees, k, out _)).OfType<TreeKernel>().ToList();
            var sessions = new[] { OnnxSessions.Load(onnx, SessionSettings.SingleThread), OnnxSessions.Load(onnx, SessionSettings.SingleThread) };
            const int batchRows = 16_384;
            (double Seconds, double CpuSeconds) Timed(int threads, Action<int, int, int> slice)
            {
                var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                var clock = Stopwatch.StartNew();
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                {
                    var from = (int)((long)count * t / threads);
                    var to = (int)((long)count * (t + 1) / threads);
                    for (var start = from; start < to; start += batchRows)
                    {
                        slice(t, start, Math.Min(batchRows, to - start));
                    }
                });
                return (clock.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds);
            }

            var kernelRuns = new Dictionary<string, List<(double Seconds, double CpuSeconds)>>();
            void Add(string name, (double Seconds, double CpuSeconds) r)
            {
                (kernelRuns.TryGetValue(name, out var list) ? list : kernelRuns[name] = []).Add(r);
                Console.WriteLine($"  {name}: {r.Seconds:0.00} s (CPU {r.CpuSeconds:0.00} s)");
            }

            var outputs = new float[count];
            for (var i = 0; i < Repeats; i++)
            {
                foreach (var threads in new[] { 1, 2 })
                {
                    foreach (var kernel in kernels.Where(k => k.Kind != TreeKernelKind.Scalar || i == 0))
                    {
                        Add($"fast path {kernel.Kind.ToString().ToLowerInvariant()}|{threads}", Timed(threads, (_, start, n) => kernel.Predict(all.AsSpan(start * Features.Length, n * Features.Length), n, outputs.AsSpan(start, n))));
                    }

                    Add($"ONNX Runtime TreeEnsemble|{threads}", Timed(threads, (t, start, n) =>
                    {
                        using var o = OnnxSessions.Run(sessions[t], sessions[t].InputNames[0], all.AsMemory(start * Features.Length, n * Features.Length), n, Features.Length, sessions[t].OutputNames[1]);
                    }));
                    // A fresh DMatrix each time (built before the clock starts): XGBoost caches the predictions of a matrix it has seen.
                    booster.SetParameter("nthread", threads);
                    using var dall = new DMatrix(all, count, Features.Length);
                    var cpu = Process.GetCurrentProcess().TotalProcessorTime;
                    var clock = Stopwatch.StartNew();
                    _ = booster.Predict(dall);
                    Add($"XGBoost {Booster.LibraryVersion} predictor|{threads}", (clock.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds));
                }
            }

            foreach (var session in sessions)
            {
                session.Dispose();
            }

            var endToEnd = new Dictionary<string, List<JsonElement>> { ["auto"] = [], ["onnxruntime"] = [] };
            for (var i = 0; i < Repeats; i++)
            {
                endToEnd["auto"].Add(await Ours("auto", portfolioPath));
                endToEnd["onnxruntime"].Add(await Ours("onnxruntime", portfolioPath));
            }

            // The cost of reason codes: the same rows scored with TreeSHAP reasons (4 per row), once, after the runs above.
            var withReasons = await Ours("auto", portfolioPath, "bench-reasons");

            // Time per row at other sizes (the fast path end to end, its own process): each size curated by our ingest,
            // scored Repeats times; the main size's runs are the ones above.
            var scaling = new SortedDictionary<long, List<JsonElement>> { [portfolio.Rows.Accepted] = endToEnd["auto"] };
            foreach (var size in (BenchArgs.String(args, "--scaling") ?? "1000000,20000000").Split(',').Select(v => int.Parse(v, CultureInfo.InvariantCulture)).Where(v => v != rows))
            {
                var sizeRaw = Path.Combine(work.FullName, $"portfolio-{size}.csv");
                IngestBenchmark.WriteRepeated(source, sizeRaw, size);
                IngestOutcome curated;
                await using (var input = File.OpenRead(sizeRaw))
                {
                    curated = await IngestEngine.RunAsync(input, sizeRaw, contract, StorageName.Run($"portfolio-{size}"), store);
                }

                File.Delete(sizeRaw);
                Console.WriteLine($"scaling: {curated.Manifest!.Rows.Accepted:N0} curated rows");
                var runs = new List<JsonElement>();
                for (var i = 0; i < Repeats; i++)
                {
                    runs.Add(await Ours("auto", curated.ManifestPath!));
                }

                scaling[curated.Manifest.Rows.Accepted] = runs;
                await store.DeletePrefixAsync(curated.ManifestPath![..curated.ManifestPath!.LastIndexOf('/')], CancellationToken.None);
            }

            var small = SmallCalls(onnx, all, calls: 2_000);
            Console.WriteLine($"  100-row calls: managed Run {small.RunMicros:0} µs, IOBinding {small.BoundMicros:0} µs, BoundRunner {small.RunnerMicros:0} µs per call");
            all = [];

            Console.WriteLine("  pandas + XGBoost: running…");
            var python = await ProcessRunner.RunJsonAsync("/usr/bin/python3", Path.Combine(root, "bench", "score", "pandas_xgboost_score.py"), raw, modelJson, Path.Combine(work.FullName, "python-scores.csv"), "gmsc-xgboost@bench");
            Console.WriteLine($"  pandas + XGBoost: {python.GetProperty("seconds").GetDouble():0.00} s (predict {python.GetProperty("predictSeconds").GetDouble():0.00} s), peak {python.GetProperty("peakRssMiB").GetDouble():0} MiB");

            var report = Report(portfolio.Rows.Accepted, rounds, ingestSeconds, kernelRuns, endToEnd, scaling, withReasons, python, small);
            await File.WriteAllTextAsync(Path.Combine(root, "bench", "results", "score.md"), report);
            Console.WriteLine();
            Console.WriteLine(report);
            return 0;
        }
        finally
        {
            if (keep is null)
            {
                work.Delete(recursive: true);
            }
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
        long rows, int rounds, double ingestSeconds, Dictionary<string, List<(double Seconds, double CpuSeconds)>> kernels, Dictionary<string, List<JsonElement>> endToEnd, SortedDictionary<long, List<JsonElement>> scaling, JsonElement reasons, JsonElement python, (double RunMicros, double BoundMicros, double RunnerMicros) small)
    {
        static string List(IEnumerable<double> values) => string.Join(", ", values.Select(v => v.ToString("0.00", CultureInfo.InvariantCulture)));
        double Best(string name) => kernels[name].Min(r => r.Seconds);
        var sb = new StringBuilder();
        sb.AppendLine("# Scoring benchmark: 5M rows, 300-tree XGBoost model: the tree fast path, ONNX Runtime, XGBoost's predictor, pandas + XGBoost");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Machine: {MachineInfo.Describe()}; AVX-512 {(System.Runtime.Intrinsics.X86.Avx512F.IsSupported ? "yes" : "no")}, AVX2 {(System.Runtime.Intrinsics.X86.Avx2.IsSupported ? "yes" : "no")}; ONNX Runtime {OnnxSessions.Version} (CPU), XGBoost {Booster.LibraryVersion}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Model: XGBoost binary:logistic, {rounds} rounds, depth 6, hist, trained through the C API on Give Me Some Credit (150k rows, 10 features), exported to a TreeEnsembleClassifier");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Rows: {rows:N0} (Give Me Some Credit rows repeated), curated by our ingest in {ingestSeconds:0.0} s (not included below)");
        sb.AppendLine("- Command: `./eng/bench.sh score`; every figure below comes from this one run, the compared runs alternated (best of 3; all runs listed)");
        sb.AppendLine();
        sb.AppendLine("## Kernels on the same rows (float[N, 10] in memory, nothing else)");
        sb.AppendLine();
        sb.AppendLine("| kernel | threads | seconds | rows/s | vs XGBoost's predictor | CPU seconds | runs |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---|");
        foreach (var threads in new[] { 1, 2 })
        {
            var xgb = Best($"XGBoost {Booster.LibraryVersion} predictor|{threads}");
            foreach (var (name, runs) in kernels.Where(k => k.Key.EndsWith($"|{threads}", StringComparison.Ordinal)))
            {
                var best = runs.MinBy(r => r.Seconds);
                sb.AppendLine(CultureInfo.InvariantCulture, $"| {name.Split('|')[0]} | {threads} | {best.Seconds:0.00} | {rows / best.Seconds:N0} | {xgb / best.Seconds:0.00}× | {best.CpuSeconds:0.00} | {List(runs.Select(r => r.Seconds))} |");
            }
        }

        sb.AppendLine();
        sb.AppendLine("ORT's kernel ran as the scorer runs it: one single-thread session per thread, batches of 16,384. The fast path's");
        sb.AppendLine("probabilities equal ORT's within 1e-6 on every row (TreeKernelTests: Taiwan, Give Me Some Credit, synthetic models");
        sb.AppendLine("with NaNs, 1 to 1,000 trees, depth 2 to 12, binary and regression, each kernel forced).");
        sb.AppendLine();
        sb.AppendLine("## End to end: `finserverless score` on the curated run, own process");
        sb.AppendLine();
        sb.AppendLine("Read parts → parse into model input → score in batches of 16,384 (both cores) → format id, PD, grade, model → write → manifest.");
        sb.AppendLine("Stage seconds are summed over the two partitions scored at once (so they add up to about twice the wall time).");
        sb.AppendLine();
        sb.AppendLine("| engine | seconds | rows/s | read | parse | model | format | write | CPU seconds | peak RSS MiB | runs |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var (engine, runs) in endToEnd)
        {
            var b = runs.MinBy(r => r.GetProperty("scoreSeconds").GetDouble());
            double P(string name) => b.GetProperty(name).GetDouble();
            sb.AppendLine(CultureInfo.InvariantCulture, $"| `--engine {engine}`: {b.GetProperty("engine").GetString()} | {P("scoreSeconds"):0.00} | {rows / P("scoreSeconds"):N0} | {P("readSeconds"):0.00} | {P("parseSeconds"):0.00} | {P("ortRunSeconds"):0.00} | {P("formatSeconds"):0.00} | {P("writeSeconds"):0.00} | {P("scoreCpuSeconds"):0.00} | {P("peakRssMiB"):0} | {List(runs.Select(r => r.GetProperty("scoreSeconds").GetDouble()))} |");
        }

        var pySeconds = python.GetProperty("seconds").GetDouble();
        sb.AppendLine(CultureInfo.InvariantCulture, $"| {python.GetProperty("side").GetString()} (bench/score/pandas_xgboost_score.py: raw CSV, same missing handling, inplace_predict on 2 threads, same columns) | {pySeconds:0.00} | {rows / pySeconds:N0} | — | — | {python.GetProperty("predictSeconds").GetDouble():0.00} | — | — | — | {python.GetProperty("peakRssMiB").GetDouble():0} | one run |");
        sb.AppendLine();
        var auto = endToEnd["auto"].Min(r => r.GetProperty("scoreSeconds").GetDouble());
        var ort = endToEnd["onnxruntime"].Min(r => r.GetProperty("scoreSeconds").GetDouble());
        sb.AppendLine(CultureInfo.InvariantCulture, $"- End to end, fast path vs ONNX Runtime: **{ort / auto:0.00}×**; vs pandas + XGBoost: **{pySeconds / auto:0.00}×** (ONNX Runtime: {pySeconds / ort:0.00}×).");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Kernel on 2 threads vs XGBoost's predictor: **{Best($"XGBoost {Booster.LibraryVersion} predictor|2") / kernels.Where(k => k.Key.StartsWith("fast path", StringComparison.Ordinal) && k.Key.EndsWith("|2", StringComparison.Ordinal)).Min(k => k.Value.Min(r => r.Seconds)):0.00}×**.");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Small batches (ScoreBatch's shape, ORT models): 100-row calls on one single-thread session take **{small.RunMicros:0} µs** with the managed Run, **{small.BoundMicros:0} µs** with an IOBinding bound once, **{small.RunnerMicros:0} µs** through `BoundRunner` (2,000 calls each, after 100 warm-up calls).");
        sb.AppendLine();
        sb.AppendLine("## The cost of reason codes");
        sb.AppendLine();
        var plain = endToEnd["auto"].Min(r => r.GetProperty("scoreSeconds").GetDouble());
        var explained = reasons.GetProperty("scoreSeconds").GetDouble();
        sb.AppendLine(CultureInfo.InvariantCulture, $"The same {rows:N0} rows scored with four TreeSHAP reason codes per row (exact TreeSHAP from the ONNX trees, the leaf-table algorithm; `reason_1..4` and their contributions in the score files), one run:");
        sb.AppendLine();
        sb.AppendLine("| run | seconds | µs per row | CPU seconds | model + reasons seconds (summed) | format seconds | peak RSS MiB |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var (name, r) in new[] { ("probability and grade only (best of the runs above)", endToEnd["auto"].MinBy(r => r.GetProperty("scoreSeconds").GetDouble())), ("with 4 TreeSHAP reasons per row", reasons) })
        {
            var seconds = r.GetProperty("scoreSeconds").GetDouble();
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {name} | {seconds:0.00} | {seconds * 1e6 / rows:0.00} | {r.GetProperty("scoreCpuSeconds").GetDouble():0.00} | {r.GetProperty("ortRunSeconds").GetDouble():0.00} | {r.GetProperty("formatSeconds").GetDouble():0.00} | {r.GetProperty("peakRssMiB").GetDouble():0} |");
        }

        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Reason codes cost **{explained - plain:0.0} s** on {rows:N0} rows ({(explained - plain) * 1e6 / rows:0.0} µs per row on 2 cores), {explained / plain:0.0}× the run without them.");
        sb.AppendLine();
        sb.AppendLine("## Time per row and peak memory by portfolio size (fast path, end to end, own process)");
        sb.AppendLine();
        sb.AppendLine("Each size is the same Give Me Some Credit rows repeated, curated by our ingest into parts of 32 MiB. A part is");
        sb.AppendLine("streamed from storage, scored in batches and written back in 1 MiB chunks in the background, so memory should not");
        sb.AppendLine("grow with the portfolio, and the time per row should not either.");
        sb.AppendLine();
        sb.AppendLine("| rows | parts | seconds | µs per row | rows/s | CPU seconds | peak RSS MiB | runs |");
        sb.AppendLine("|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var (n, runs) in scaling)
        {
            var b = runs.MinBy(r => r.GetProperty("scoreSeconds").GetDouble());
            var seconds = b.GetProperty("scoreSeconds").GetDouble();
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {n:N0} | {b.GetProperty("parts").GetInt32()} | {seconds:0.00} | {seconds * 1e6 / n:0.000} | {n / seconds:N0} | {b.GetProperty("scoreCpuSeconds").GetDouble():0.00} | {runs.Max(r => r.GetProperty("peakRssMiB").GetDouble()):0} | {List(runs.Select(r => r.GetProperty("scoreSeconds").GetDouble()))} |");
        }

        sb.AppendLine();
        sb.AppendLine("Peak RSS is the highest of the runs at that size (VmHWM of the scoring process).");
        return sb.ToString();
    }
}
