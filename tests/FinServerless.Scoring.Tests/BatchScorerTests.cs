using FinServerless.Contracts;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using FinServerless.Onnx.Writer;
using FinServerless.XGBoost;

namespace FinServerless.Scoring.Tests;

public sealed class BatchScorerTests(ScoringFixture fixture) : IClassFixture<ScoringFixture>
{
    internal static ModelManifest Manifest(string name, IReadOnlyList<string> features, string output, int column) => new()
    {
        Name = name,
        Version = "1.0.0",
        Trainer = "test",
        Features = features.Select(f => new FeatureSpec(f)).ToList(),
        Onnx = new OnnxArtifact { Sha256 = "set-on-register", ProbabilityOutput = output, ProbabilityColumn = column },
    };

    private static Dictionary<string, (float P, string Band, string Model)> ReadScores(string root, ScoreManifest manifest)
    {
        var scores = new Dictionary<string, (float, string, string)>();
        foreach (var part in manifest.Parts)
        {
            foreach (var line in File.ReadLines(Path.Combine(root, part.Path)).Skip(1))
            {
                var c = line.Split(',');
                scores[c[0]] = (float.Parse(c[1], CultureInfo.InvariantCulture), c[2], c[3]);
            }
        }

        return scores;
    }

    [Fact]
    public async Task A_linear_model_scores_every_curated_row_as_its_formula_says()
    {
        var features = fixture.Features;
        var weights = features.Select((f, i) => f.StartsWith("PAY_", StringComparison.Ordinal) && !f.StartsWith("PAY_AMT", StringComparison.Ordinal) ? 0.4f : (i % 3 - 1) * 1e-6f).ToArray();
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(Manifest("linear", features, LinearModel.OutputName, 0), LinearModel.Write(features, weights, -1.2f));
        using var model = await store.LoadAsync(ModelReference.Parse("linear@1.0.0"));

        var outcome = await BatchScorer.ScoreRunAsync(fixture.Run, fixture.RunManifestPath, fixture.Store, model);

        var (ids, x, _) = fixture.Table();
        var scores = ReadScores(fixture.Root, outcome.Manifest);
        Assert.Equal(30_000, outcome.Manifest.Rows);
        Assert.Equal(30_000, scores.Count);
        Assert.Equal(30_000, outcome.Manifest.Bands.Values.Sum());
        Assert.Equal(fixture.Run.Parts.Count, outcome.Manifest.Parts.Count);
        for (var r = 0; r < ids.Length; r += 97)
        {
            double z = -1.2;
            for (var k = 0; k < features.Count; k++)
            {
                z += (double)weights[k] * x[(r * features.Count) + k];
            }

            var expected = 1 / (1 + Math.Exp(-z));
            var (p, band, modelId) = scores[ids[r]];
            Assert.Equal(expected, p, 4);
            Assert.Equal(RiskBands.Default.Names[RiskBands.Default.IndexOf(p)], band);
            Assert.Equal("linear@1.0.0", modelId);
        }

        Assert.Equal(["ID", "probability_of_default", "risk_band", "model"], outcome.Manifest.Columns);
        Assert.True(outcome.Manifest.Timings.OrtRunSeconds > 0);
    }

    [Fact]
    public async Task A_tree_ensemble_trained_by_XGBoost_scores_as_XGBoost_predicts()
    {
        var features = fixture.Features;
        var ids = fixture.Table().Ids;
        var (onnx, expected) = fixture.Trees();
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(Manifest("trees", features, XGBoostTreeExport.ProbabilitiesOutput, 1), onnx);
        await store.PromoteAsync(ModelReference.Parse("trees@1.0.0"), "first");
        using var model = await store.LoadAsync(ModelReference.Parse("trees@champion"));

        var outcome = await BatchScorer.ScoreRunAsync(fixture.Run, fixture.RunManifestPath, fixture.Store, model, new ScoreOptions { BatchRows = 1000 });

        var scores = ReadScores(fixture.Root, outcome.Manifest);
        var worst = ids.Select((id, r) => Math.Abs(scores[id].P - expected[r])).Max();
        Assert.True(worst < 1e-5, $"largest difference {worst}");
    }

    [Fact]
    public async Task Scoring_the_same_run_with_the_same_version_again_commits_nothing_new()
    {
        var features = fixture.Features;
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(Manifest("again", features, LinearModel.OutputName, 0), LinearModel.Write(features, new float[features.Count], 0));
        using var model = await store.LoadAsync(ModelReference.Parse("again@1.0.0"));

        var first = await BatchScorer.ScoreRunAsync(fixture.Run, fixture.RunManifestPath, fixture.Store, model);
        var second = await BatchScorer.ScoreRunAsync(fixture.Run, fixture.RunManifestPath, fixture.Store, model);

        Assert.False(first.AlreadyDone);
        Assert.True(second.AlreadyDone);
        Assert.Equal(first.Manifest.CreatedAt, second.Manifest.CreatedAt);
        Assert.Equal(30_000, second.Manifest.Bands["E"]);
    }

    [Fact]
    public async Task A_model_file_changed_after_registration_is_refused()
    {
        var features = fixture.Features;
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(Manifest("tampered", features, LinearModel.OutputName, 0), LinearModel.Write(features, new float[features.Count], 0));
        File.WriteAllBytes(Path.Combine(fixture.Root, "models", "tampered", "1.0.0", "model.onnx"), LinearModel.Write(features, Enumerable.Repeat(1f, features.Count).ToArray(), 0));

        var error = await Assert.ThrowsAsync<ModelException>(() => store.LoadAsync(ModelReference.Parse("tampered@1.0.0")));

        Assert.Contains("SHA-256", error.Message);
        Assert.Contains("will not be loaded", error.Message);
    }

    [Fact]
    public async Task A_model_whose_features_the_run_lacks_fails_listing_the_differences()
    {
        string[] features = ["LIMIT_BAL", "AGE", "credit_score", "months_on_book"];
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(Manifest("other-data", features, LinearModel.OutputName, 0), LinearModel.Write(features, new float[4], 0));
        using var model = await store.LoadAsync(ModelReference.Parse("other-data@1.0.0"));

        var error = await Assert.ThrowsAsync<ModelException>(() => BatchScorer.ScoreRunAsync(fixture.Run, fixture.RunManifestPath, fixture.Store, model));

        Assert.Contains("lacks feature(s) 'credit_score', 'months_on_book'", error.Message);
        Assert.Contains("'PAY_0'", error.Message);
    }

    [Fact]
    public async Task A_corrupt_model_file_fails_with_ORTs_message()
    {
        var features = fixture.Features;
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(Manifest("corrupt", features, LinearModel.OutputName, 0), LinearModel.Write(features, new float[features.Count], 0)[..50]);

        var error = await Assert.ThrowsAsync<OnnxRuntimeException>(() => store.LoadAsync(ModelReference.Parse("corrupt@1.0.0")));

        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Fact]
    public async Task A_model_with_the_wrong_input_shape_or_type_is_refused_at_load()
    {
        var features = fixture.Features;
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(Manifest("narrow", features, LinearModel.OutputName, 0), LinearModel.Write(["a", "b"], [1f, 2f], 0));

        var error = await Assert.ThrowsAsync<ModelException>(() => store.LoadAsync(ModelReference.Parse("narrow@1.0.0")));

        Assert.Contains($"expected float[N,{features.Count}]", error.Message);
    }

    [Fact]
    public async Task A_model_taking_integers_instead_of_floats_is_refused_at_load()
    {
        var features = fixture.Features;
        var onnx = new OnnxModelBuilder("ints")
            .AddInput("features", FinServerless.Onnx.Proto.TensorProto.Types.DataType.Int64, "N", features.Count)
            .AddNode("Cast", ["features"], ["probability"], null, OnnxModelBuilder.Int("to", 1))
            .AddOutput("probability", FinServerless.Onnx.Proto.TensorProto.Types.DataType.Float, "N", features.Count)
            .ToBytes();
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(Manifest("ints", features, "probability", 0), onnx);

        var error = await Assert.ThrowsAsync<ModelException>(() => store.LoadAsync(ModelReference.Parse("ints@1.0.0")));

        Assert.Contains("Int64", error.Message);
        Assert.Contains("float features", error.Message);
    }

    [Fact]
    public async Task An_unknown_champion_or_version_is_a_clear_error()
    {
        var store = new ModelStore(fixture.Store);

        var noChampion = await Assert.ThrowsAsync<ModelNotFoundException>(() => store.LoadAsync(ModelReference.Parse("nobody@champion")));
        var noVersion = await Assert.ThrowsAsync<ModelNotFoundException>(() => store.LoadAsync(ModelReference.Parse("nobody@9.9.9")));

        Assert.Contains("has no champion yet", noChampion.Message);
        Assert.Contains("nobody@9.9.9 is not registered", noVersion.Message);
    }

    [Fact]
    public void Risk_bands_parse_from_settings_and_refuse_bad_cutoffs()
    {
        var bands = RiskBands.Parse("low:0.05,medium:0.2,high");

        Assert.Equal(["low", "medium", "high"], bands.Names);
        Assert.Equal(1, bands.IndexOf(0.05));
        Assert.Equal(2, bands.IndexOf(0.9));
        Assert.Contains("must increase", Assert.Throws<ArgumentException>(() => RiskBands.Parse("low:0.3,high:0.1,top")).Message);
        Assert.Contains("FINSERVERLESS_RISK_BANDS", Assert.Throws<ArgumentException>(() => RiskBands.Parse("low:x,top")).Message);
    }
}
