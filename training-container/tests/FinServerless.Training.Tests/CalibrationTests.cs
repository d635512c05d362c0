using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using FinServerless.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Scoring;
using FinServerless.Training.Trainers;

namespace FinServerless.Training.Tests;

/// <summary>Every trainer's output is a probability of default: calibrated on held-out rows, reported with its calibration.</summary>
public sealed partial class CalibrationTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("finserverless-calibration-");

    public void Dispose() => _folder.Delete(recursive: true);

    private static TrainerSettings Settings(string? json) => new() { Parameters = json is null ? null : JsonNode.Parse(json)!.AsObject(), Seed = 7, Threads = 2 };

    [Fact]
    public void Platt_scaling_recovers_a_known_distortion_and_matches_the_mean()
    {
        var random = new Random(1);
        const int n = 50_000;
        var raw = new float[n];
        var labels = new float[n];
        for (var i = 0; i < n; i++)
        {
            var logit = (random.NextDouble() * 6) - 4; // the true log-odds
            labels[i] = random.NextDouble() < 1 / (1 + Math.Exp(-logit)) ? 1 : 0;
            raw[i] = (float)(1 / (1 + Math.Exp(-((2 * logit) + 1)))); // an over-confident, shifted model
        }

        var calibration = ProbabilityCalibration.FitPlatt(raw, labels, "test rows");
        Assert.InRange(calibration.Slope, 0.47, 0.53);
        Assert.InRange(calibration.Intercept, -0.56, -0.44);
        var calibrated = raw.Select(calibration.Apply).ToArray();
        Assert.Equal(labels.Average(), calibrated.Average(), 3);
    }

    [Theory]
    [InlineData("xgboost", null)]
    [InlineData("mlp", null)]
    [InlineData("scorecard", null)]
    public async Task On_Taiwan_the_mean_PD_matches_the_held_out_default_rate_and_the_ECE_is_small(string trainer, string? parameters)
    {
        var store = new FolderRunOutput(_folder.FullName);
        var run = await TrainingData.IngestAsync(store, TrainingData.TaiwanCsv, "taiwan-credit");
        await AssertCalibratedAsync(store, run, trainer, parameters);
    }

    [Theory]
    [InlineData("xgboost", null)]
    [InlineData("mlp", "{\"epochs\": 8}")]
    [InlineData("scorecard", null)]
    public async Task On_Give_Me_Some_Credit_the_mean_PD_matches_the_held_out_default_rate_and_the_ECE_is_small(string trainer, string? parameters)
    {
        var file = TrainingData.GmscTraining(out var reason);
        if (file is null)
        {
            Console.WriteLine($"skipped: {reason}");
            return;
        }

        var store = new FolderRunOutput(_folder.FullName);
        var run = await TrainingData.IngestAsync(store, file, "give-me-some-credit");
        await AssertCalibratedAsync(store, run, trainer, parameters);
    }

    private static async Task AssertCalibratedAsync(FolderRunOutput store, string run, string trainer, string? parameters)
    {
        var outcome = await TrainingJob.RunAsync(store, run, store, new TrainingRequest { Trainer = trainer, ModelName = $"cal-{trainer}", Version = "v1", Settings = Settings(parameters) }, TrainingProgress.None);
        var e = outcome.Evaluation;
        Assert.True(Math.Abs(e.MeanPredicted - e.ObservedRate) < 0.01, $"{trainer}: mean PD {e.MeanPredicted:0.0000} vs observed {e.ObservedRate:0.0000}");
        Assert.True(e.Ece < 0.02, $"{trainer}: ECE {e.Ece:0.0000}");
        var manifest = outcome.Manifest;
        Assert.Equal("platt", manifest.Calibration!.Method);
        Assert.Equal(e.Ece, manifest.Metrics!["ece"]);

        // The registered model, loaded as every scoring path loads it, gives the calibrated PDs the evaluation measured.
        using var loaded = await new ModelStore(store).LoadAsync(ModelReference.Parse($"cal-{trainer}@v1"));
        var runManifest = System.Text.Json.JsonSerializer.Deserialize<RunManifest>((await store.ReadAsync(run, default))!, RunManifest.JsonOptions)!;
        var scored = await BatchScorer.ScoreRunAsync(runManifest, run, store, loaded);
        var pds = scored.Manifest.Parts.SelectMany(p => File.ReadLines(Path.Combine(store.Root, p.Path)).Skip(1)).Select(l => double.Parse(l.Split(',')[1], System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(Math.Abs(pds.Average() - e.ObservedRate) < 0.015, $"{trainer}: mean scored PD {pds.Average():0.0000} vs observed {e.ObservedRate:0.0000}");

        // The report's reliability diagram: one point per decile with its row count, ticks on both axes, the diagonal.
        var report = System.Text.Encoding.UTF8.GetString((await store.ReadAsync($"models/cal-{trainer}/v1/report.html", default))!);
        var svg = Regex.Match(report, "<svg[^>]*class=\"reliability\".*?</svg>", RegexOptions.Singleline).Value;
        Assert.NotEmpty(svg);
        var points = PointRegex().Matches(svg);
        Assert.Equal(10, points.Count);
        Assert.Equal(e.Rows, points.Sum(p => int.Parse(p.Groups["rows"].Value, System.Globalization.CultureInfo.InvariantCulture)));
        Assert.True(TickRegex().Matches(svg).Count >= 12, "ticks on both axes");
        Assert.Contains("stroke-dasharray", svg);
        Assert.Contains("Probabilities of default are calibrated (platt", report);
    }

    [GeneratedRegex("<circle class=\"bin\"[^>]*data-rows=\"(?<rows>\\d+)\"")]
    private static partial Regex PointRegex();

    [GeneratedRegex("<line class=\"tick\"")]
    private static partial Regex TickRegex();
}
