using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using FinServerless.Contracts;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Native;
using FinServerless.Training;
using FinServerless.Training.Data;
using FinServerless.Training.Trainers;

namespace FinServerless.Benchmarks;

/// <summary>
/// Training quality and speed against the Python twins: 5-fold stratified cross-validation with a fixed seed
/// on Give Me Some Credit and Taiwan, the very same folds and early-stopping rows on both sides (written to a
/// plan file the Python script reads), AUC per fold and wall time per trainer. Writes bench/results/train.md.
/// </summary>
internal static class TrainBenchmark
{
    private const int Seed = 42;
    private const int XGBoostThreads = 2;
    private const int MlpThreads = 1;

    private static readonly JsonObject MlpParameters = new()
    {
        ["hidden"] = new JsonArray(64, 32),
        ["dropout"] = 0.1,
        ["learning_rate"] = 1e-3,
        ["weight_decay"] = 0.0,
        ["batch_size"] = 256,
        ["epochs"] = 30,
        ["patience"] = 3,
        ["clip_quantile"] = 0.001,
    };

    private sealed record Row(string Dataset, string Ours, double[] OurAuc, double OurSeconds, string Twin, double[] TwinAuc, double TwinSeconds)
    {
        public double[] OurBrier { get; init; } = [];

        public double[] OurEce { get; init; } = [];

        public double[] TwinBrier { get; init; } = [];

        public double[] TwinEce { get; init; } = [];
    }

    public static async Task<int> RunAsync(string[] args)
    {
        var root = RepositoryLayout.Root;
        var folds = BenchArgs.Int(args, "--folds", 5);
        var datasets = new (string Name, string Source, string Contract)[]
        {
            ("Give Me Some Credit", RepositoryLayout.GmscTrainingPath, "samples/give-me-some-credit/contract.json"),
            ("Taiwan (UCI)", Path.Combine(root, "samples", "taiwan-credit", "UCI_Credit_Card.csv"), "samples/taiwan-credit/contract.json"),
        };
        if (!File.Exists(datasets[0].Source))
        {
            Console.WriteLine($"skipped: the training benchmark needs {datasets[0].Source} (Give Me Some Credit; not redistributable).");
            return 0;
        }

        var work = Directory.CreateTempSubdirectory("finserverless-train-bench-");
        var rows = new List<Row>();
        try
        {
            foreach (var (name, source, contractPath) in datasets)
            {
                var store = new FolderRunOutput(Path.Combine(work.FullName, "store"));
                RunManifest run;
                await using (var input = File.OpenRead(source))
                {
                    run = (await IngestEngine.RunAsync(input, source, DatasetContract.Load(Path.Combine(root, contractPath)), StorageName.Run("bench"), store)).Manifest!;
                }

                var (table, _, _) = await TrainingTable.LoadAsync(store, StorageLayout.CuratedManifest(run.Names.Partner, run.Names.Dataset, run.Names.Run));
                Console.WriteLine($"{name}: {table.Rows:N0} rows × {table.Columns} features, {table.Positives:N0} defaults; {folds}-fold plan, seed {Seed}");
                var plan = Folds.Plan(table.Y, folds, Seed, TrainingJob.EarlyStoppingShare);
                var (dataPath, planPath) = WritePlan(work.FullName, table, plan);
                var twins = await ProcessRunner.RunJsonAsync("/usr/bin/python3", Path.Combine(root, "training-container", "python", "cv_twins.py"), "--data", dataPath, "--plan", planPath);

                foreach (var (trainer, parameters, threads, twin) in new (string, JsonObject?, int, string)[]
                {
                    ("xgboost", null, XGBoostThreads, "xgboost"),
                    ("mlp", MlpParameters, MlpThreads, "mlp"),
                    ("scorecard", null, 0, "logistic_log1p"),
                    ("scorecard", null, 0, "logistic_raw"),
                })
                {
                    var settings = new TrainerSettings { Parameters = parameters?.DeepClone().AsObject(), Seed = Seed, Threads = threads };
                    var clock = Stopwatch.StartNew();
                    var scores = TrainingJob.CrossValidate(TrainingJob.Create(trainer), table, plan, settings, TrainingProgress.None, CancellationToken.None);
                    var seconds = clock.Elapsed.TotalSeconds;
                    var t = twins.GetProperty(twin);
                    double[] Twin(string metric) => [.. t.GetProperty(metric).EnumerateArray().Select(a => a.GetDouble())];
                    var row = new Row(name, trainer, [.. scores.Select(s => s.Auc)], seconds, twin, Twin("auc"), t.GetProperty("seconds").GetDouble())
                    {
                        OurBrier = [.. scores.Select(s => s.Brier)],
                        OurEce = [.. scores.Select(s => s.Ece)],
                        TwinBrier = Twin("brier"),
                        TwinEce = Twin("ece"),
                    };
                    rows.Add(row);
                    Console.WriteLine($"  {trainer,-10} AUC {row.OurAuc.Average():0.0000} ECE {row.OurEce.Average():0.0000} in {seconds,6:0.0} s | {twin,-15} AUC {row.TwinAuc.Average():0.0000} ECE {row.TwinEce.Average():0.0000} in {row.TwinSeconds,6:0.0} s");
                }
            }
        }
        finally
        {
            work.Delete(recursive: true);
        }

        var results = Path.Combine(root, "bench", "results", "train.md");
        await File.WriteAllTextAsync(results, Report(rows, folds));
        Console.WriteLine($"results written to {Path.GetRelativePath(root, results)}");
        return 0;
    }

    private static (string Data, string Plan) WritePlan(string folder, TrainingTable table, IReadOnlyList<Folds.FoldPlan> plan)
    {
        var data = Path.Combine(folder, "matrix.csv");
        using (var writer = new StreamWriter(data))
        {
            writer.WriteLine(string.Join(",", table.Features.Append("label")));
            var line = new StringBuilder();
            for (var r = 0; r < table.Rows; r++)
            {
                line.Clear();
                for (var j = 0; j < table.Columns; j++)
                {
                    var v = table.X[(r * table.Columns) + j];
                    line.Append(float.IsNaN(v) ? string.Empty : v.ToString("R", CultureInfo.InvariantCulture)).Append(',');
                }

                writer.WriteLine(line.Append(table.Y[r].ToString(CultureInfo.InvariantCulture)));
            }
        }

        var folds = new JsonArray();
        foreach (var fold in plan)
        {
            var (booster, rounds, patience, _) = XGBoostTrainer.Resolve(new TrainerSettings { Seed = Seed, Threads = XGBoostThreads }, table.Subset(fold.Fit));
            var xgb = new JsonObject { ["num_boost_round"] = rounds, ["early_stopping_rounds"] = patience };
            foreach (var (k, v) in booster.Where(p => p.Key != "nthread"))
            {
                xgb[k] = v;
            }

            folds.Add(new JsonObject
            {
                ["fit"] = JsonSerializer.SerializeToNode(fold.Fit),
                ["stop"] = JsonSerializer.SerializeToNode(fold.Stop),
                ["test"] = JsonSerializer.SerializeToNode(fold.Test),
                ["xgboost"] = xgb,
            });
        }

        var planPath = Path.Combine(folder, "plan.json");
        File.WriteAllText(planPath, new JsonObject
        {
            ["seed"] = Seed,
            ["threads"] = new JsonObject { ["xgboost"] = XGBoostThreads, ["mlp"] = MlpThreads },
            ["mlp"] = MlpParameters.DeepClone(),
            ["folds"] = folds,
        }.ToJsonString());
        return (data, planPath);
    }

    private static string Report(List<Row> rows, int folds)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Training: FinServerless trainers vs their Python twins");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Produced by `./eng/bench.sh train` on {MachineInfo.Describe()}, {DateTime.UtcNow:yyyy-MM-dd}.");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"{folds}-fold stratified cross-validation, seed {Seed}. Both sides train on the very same rows: the benchmark writes the curated matrix and the fold plan (fit rows, early-stopping rows = a stratified 10% of each fold's training rows, test rows, and XGBoost's parameters per fold) and `training-container/python/cv_twins.py` reads them. AUC, Brier score and ECE (expected calibration error over ten equal-count bins) are on each fold's test rows; our PDs are calibrated as the training job calibrates them (Platt scaling fitted on the fold's early-stopping rows), and so are the XGBoost and MLP twins' (scikit-learn's `LogisticRegression` on the logit of their stop-row predictions, unpenalized: Platt's method); the logistic twins are used as they come. Time is the wall time of training and predicting all folds (data loading excluded). XGBoost: {XGBoostThreads} threads on both sides (the same libxgboost 1.7). MLP 64-32-1, dropout 0.1, Adam 1e-3, batch 256, up to 30 epochs, patience 3, {MlpThreads} libtorch thread on both sides (the same libtorch 1.13.1 with OpenBLAS, `OPENBLAS_NUM_THREADS=1`). The scorecard (WoE bins + L2 logistic) is set beside scikit-learn's logistic regression on raw and on log1p features.");
        sb.AppendLine();
        sb.AppendLine("| Dataset | Ours | AUC (mean ± sd) | Brier | ECE | Time (s) | Python twin | AUC (mean ± sd) | Brier | ECE | Time (s) | AUC gap | Time ratio |");
        sb.AppendLine("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
        foreach (var r in rows)
        {
            static string Auc(double[] a) => $"{a.Average():0.0000} ± {Math.Sqrt(a.Average(v => Math.Pow(v - a.Average(), 2))):0.0000}";
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {r.Dataset} | {r.Ours} | {Auc(r.OurAuc)} | {r.OurBrier.Average():0.0000} | {r.OurEce.Average():0.0000} | {r.OurSeconds:0.0} | {r.Twin} | {Auc(r.TwinAuc)} | {r.TwinBrier.Average():0.0000} | {r.TwinEce.Average():0.0000} | {r.TwinSeconds:0.0} | {r.OurAuc.Average() - r.TwinAuc.Average():+0.0000;-0.0000;+0.0000} | {r.OurSeconds / r.TwinSeconds:0.00}× |");
        }

        sb.AppendLine();
        sb.AppendLine("AUC gap = ours − twin (targets: no worse than −0.005; XGBoost ≥ 0.86 and the scorecard ≥ 0.85 on Give Me Some Credit). Time ratio = ours / twin (target ≤ 1.2×). Per-fold AUCs:");
        sb.AppendLine();
        foreach (var r in rows)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"- {r.Dataset}, {r.Ours}: [{string.Join(", ", r.OurAuc.Select(a => a.ToString("0.0000", CultureInfo.InvariantCulture)))}]; {r.Twin}: [{string.Join(", ", r.TwinAuc.Select(a => a.ToString("0.0000", CultureInfo.InvariantCulture)))}]");
        }

        return sb.ToString();
    }
}
