using System.Text.Json.Nodes;
using FinServerless.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Scoring;
using FinServerless.Training.Data;
using FinServerless.Training.Trainers;

namespace FinServerless.Training.Tests;

public sealed class TrainerTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("finserverless-train-test-");

    public void Dispose() => _folder.Delete(recursive: true);

    private static TrainerSettings Settings(string? json) => new() { Parameters = json is null ? null : JsonNode.Parse(json)!.AsObject(), Seed = 11, Threads = 2 };

    /// <summary>Fits on 80% of a run and checks, here in the test, ONNX Runtime's probabilities against the native engine's on the other 20%.</summary>
    private static double ParityOn(TrainingTable table, string trainer, string? parameters)
    {
        var (trainRows, testRows) = Folds.Split(table.Y, Enumerable.Range(0, table.Rows).ToArray(), 0.2, 3);
        var test = table.Subset(testRows);
        using var fit = TrainingJob.FitAndCheck(TrainingJob.Create(trainer), table.Subset(trainRows), test, Settings(parameters), "parity", "1", 1e-5, TrainingProgress.None, CancellationToken.None);
        var onnx = TrainingJob.PredictOnnx(fit.Draft, fit.Onnx, fit.Model.ScoringInput(test), test.Rows);
        Assert.Equal(test.Rows, onnx.Length);
        return fit.Native.Zip(onnx, (a, b) => (double)Math.Abs(a - b)).Max();
    }

    [Theory]
    [InlineData("xgboost", "{\"num_boost_round\": 80}")]
    [InlineData("mlp", "{\"epochs\": 3}")]
    [InlineData("scorecard", null)]
    public async Task Onnx_export_reproduces_the_native_model_on_the_whole_validation_set_Taiwan(string trainer, string? parameters)
    {
        var store = new FolderRunOutput(_folder.FullName);
        var run = await TrainingData.IngestAsync(store, TrainingData.TaiwanCsv, "taiwan-credit");
        var (table, _, _) = await TrainingTable.LoadAsync(store, run);
        Assert.InRange(ParityOn(table, trainer, parameters), 0, 1e-5);
    }

    [Theory]
    [InlineData("xgboost", "{\"num_boost_round\": 60}")]
    [InlineData("mlp", "{\"epochs\": 2, \"hidden\": [16]}")]
    [InlineData("scorecard", "{\"max_bins\": 8}")]
    public async Task A_training_job_registers_model_manifest_report_and_lineage(string trainer, string? parameters)
    {
        var store = new FolderRunOutput(_folder.FullName);
        var run = await TrainingData.IngestAsync(store, TrainingData.TaiwanCsv, "taiwan-credit");
        var lines = new StringWriter();
        var outcome = await TrainingJob.RunAsync(store, run, store, new TrainingRequest { Trainer = trainer, ModelName = $"taiwan-{trainer}", Version = "t1", Settings = Settings(parameters) }, new TrainingProgress(lines));

        var models = new ModelStore(store);
        var manifest = await models.ReadManifestAsync(ModelReference.Parse($"taiwan-{trainer}@t1"));
        Assert.Equal(trainer, manifest.Trainer);
        Assert.Equal(23, manifest.Features.Count);
        Assert.DoesNotContain(manifest.Features, f => f.Name is "ID" or "default.payment.next.month");
        Assert.Equal(run, manifest.Lineage!.CuratedManifest);
        Assert.Equal(64, manifest.Lineage.CuratedManifestSha256!.Length);
        Assert.InRange(manifest.Metrics!["auc"], 0.60, 1); // a few epochs or rounds: trained, not tuned
        Assert.InRange(manifest.Metrics["onnx_parity_max_abs_diff"], 0, 1e-5);
        Assert.True(manifest.Metrics.ContainsKey("ks") && manifest.Metrics.ContainsKey("brier") && manifest.Metrics.ContainsKey("log_loss"));
        Assert.NotEmpty(manifest.Parameters!);
        Assert.Equal(outcome.Evaluation.Auc, manifest.Metrics["auc"]);

        var report = System.Text.Encoding.UTF8.GetString((await store.ReadAsync($"models/taiwan-{trainer}/t1/report.html", default))!);
        Assert.Contains("<svg", report);
        Assert.Contains("ROC", report);
        Assert.Contains("Calibration by decile", report);
        Assert.NotNull(await store.ReadAsync($"models/taiwan-{trainer}/t1/evaluation.json", default));
        Assert.Contains("phase=registered", lines.ToString());

        // The registered model loads and scores the run exactly as the platform's scorer does.
        using var loaded = await models.LoadAsync(ModelReference.Parse($"taiwan-{trainer}@t1"));
        var runManifest = System.Text.Json.JsonSerializer.Deserialize<RunManifest>((await store.ReadAsync(run, default))!, RunManifest.JsonOptions)!;
        var scored = await BatchScorer.ScoreRunAsync(runManifest, run, store, loaded);
        Assert.Equal(30_000, scored.Manifest.Rows);
    }

    [Fact]
    public void Scorecard_bins_hold_enough_rows_and_both_classes_and_missing_gets_its_own_bin()
    {
        var random = new Random(5);
        var values = Enumerable.Range(0, 5000).Select(i => i % 50 == 0 ? float.NaN : (float)random.NextDouble() * 100).ToArray();
        var labels = values.Select(v => float.IsNaN(v) ? 1f : random.NextDouble() < v / 200 ? 1f : 0f).ToArray();
        var bins = ScorecardTrainer.Bin("x", values, labels, maxBins: 20, minShare: 0.05);

        Assert.True(bins.Thresholds.SequenceEqual(bins.Thresholds.Order()));
        Assert.All(bins.Rows, n => Assert.True(n >= 0.05 * values.Length, $"bin with {n} rows"));
        Assert.All(bins.Defaults.Zip(bins.Rows), p => Assert.InRange(p.First, 1, p.Second - 1));
        Assert.Equal(100, bins.MissingRows);
        Assert.True(bins.MissingWoe > bins.Woe[0], "all-default missing bin must be riskier than the lowest bin");
        Assert.True(bins.Woe[^1] > bins.Woe[0], "risk rises with x");
        Assert.Equal(bins.Thresholds.Length + 1, bins.BinOf(float.NaN));
        Assert.Equal(0, bins.BinOf(bins.Thresholds[0]));
        Assert.Equal(1, bins.BinOf(MathF.BitIncrement(bins.Thresholds[0])));
    }

    [Fact]
    public void Scorecard_bin_counts_match_a_direct_count_over_negatives_zeros_ties_and_extremes()
    {
        var random = new Random(11);
        float[] specials = [-0f, 0f, -1e30f, 1e30f, float.Epsilon, -float.Epsilon, 96f, 98f];
        var values = Enumerable.Range(0, 20_000).Select(i => i % 97 == 0 ? float.NaN : i % 13 == 0 ? specials[i % specials.Length] : (float)Math.Round((random.NextDouble() - 0.3) * 200, i % 3)).ToArray();
        var labels = values.Select(_ => random.NextDouble() < 0.2 ? 1f : 0f).ToArray();
        var bins = ScorecardTrainer.Bin("x", values, labels, maxBins: 20, minShare: 0.01);

        var rows = new int[bins.Thresholds.Length + 1];
        var bads = new int[bins.Thresholds.Length + 1];
        for (var i = 0; i < values.Length; i++)
        {
            var bin = bins.BinOf(values[i]);
            if (bin <= bins.Thresholds.Length)
            {
                rows[bin]++;
                bads[bin] += (int)labels[i];
            }
        }

        Assert.True(bins.Thresholds.Length >= 10, $"{bins.Thresholds.Length} thresholds");
        Assert.Equal(rows, bins.Rows);
        Assert.Equal(bads, bins.Defaults);
        Assert.Equal(values.Count(float.IsNaN), bins.MissingRows);
    }

    [Fact]
    public void Scorecard_regression_ends_where_the_penalized_gradient_vanishes()
    {
        var random = new Random(3);
        const int n = 5003;
        var columns = Enumerable.Range(0, 4).Select(_ => Enumerable.Range(0, n).Select(_ => random.NextDouble() - 0.5).ToArray()).ToArray();
        var y = Enumerable.Range(0, n).Select(r => random.NextDouble() < 1 / (1 + Math.Exp(-((2 * columns[0][r]) - columns[1][r] - 1))) ? 1f : 0f).ToArray();
        const double l2 = 2;
        var (beta, intercept) = ScorecardTrainer.FitLogistic(columns, y, l2, 50, TrainingProgress.None, "test");

        var gradient = new double[5];
        for (var r = 0; r < n; r++)
        {
            var eta = intercept + Enumerable.Range(0, 4).Sum(j => beta[j] * columns[j][r]);
            var residual = y[r] - (1 / (1 + Math.Exp(-eta)));
            gradient[0] += residual;
            for (var j = 0; j < 4; j++)
            {
                gradient[j + 1] += residual * columns[j][r];
            }
        }

        for (var j = 0; j < 4; j++)
        {
            gradient[j + 1] -= l2 * beta[j];
        }

        Assert.All(gradient, g => Assert.InRange(g, -1e-6, 1e-6));
        Assert.InRange(beta[0], 1.5, 2.5); // the true coefficients are 2, -1, 0, 0
        Assert.InRange(beta[1], -1.5, -0.5);
    }

    [Fact]
    public async Task Quality_on_Give_Me_Some_Credit_meets_the_targets_with_parity()
    {
        var file = TrainingData.GmscTraining(out var reason);
        if (file is null)
        {
            Console.WriteLine($"skipped: {reason}");
            return;
        }

        var store = new FolderRunOutput(_folder.FullName);
        var run = await TrainingData.IngestAsync(store, file, "give-me-some-credit");
        var xgb = await TrainingJob.RunAsync(store, run, store, new TrainingRequest { Trainer = "xgboost", ModelName = "gmsc-xgboost", Version = "t", Settings = Settings(null) }, TrainingProgress.None);
        var card = await TrainingJob.RunAsync(store, run, store, new TrainingRequest { Trainer = "scorecard", ModelName = "gmsc-scorecard", Version = "t", Settings = Settings(null) }, TrainingProgress.None);
        Assert.InRange(xgb.Evaluation.Auc, 0.86, 1);
        Assert.InRange(card.Evaluation.Auc, 0.85, 1);
        Assert.InRange(xgb.ParityMaxAbsDiff, 0, 1e-5);
        Assert.InRange(card.ParityMaxAbsDiff, 0, 1e-5);

        var (table, _, _) = await TrainingTable.LoadAsync(store, run);
        Assert.InRange(ParityOn(table, "mlp", "{\"epochs\": 2}"), 0, 1e-5);
    }
}
