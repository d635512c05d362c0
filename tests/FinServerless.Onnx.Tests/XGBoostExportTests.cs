using FinServerless.Onnx.Sessions;
using FinServerless.Onnx.Writer;
using FinServerless.XGBoost;

namespace FinServerless.Onnx.Tests;

public sealed class XGBoostExportTests
{
    [Fact]
    public void An_exported_XGBoost_model_gives_XGBoosts_probabilities_in_ONNX_Runtime_missing_values_included()
    {
        const int rows = 3_000, features = 6;
        var random = new Random(11);
        var data = new float[rows * features];
        var labels = new float[rows];
        for (var r = 0; r < rows; r++)
        {
            for (var f = 0; f < features; f++)
            {
                data[(r * features) + f] = random.NextDouble() < 0.1 ? float.NaN : (float)(random.NextDouble() * 100);
            }

            var x0 = float.IsNaN(data[r * features]) ? 50 : data[r * features];
            labels[r] = x0 + (random.NextDouble() * 40) > 70 ? 1 : 0;
        }

        using var train = new DMatrix(data, rows, features, labels);
        using var booster = new Booster(train)
            .SetParameter("objective", "binary:logistic").SetParameter("max_depth", 6).SetParameter("eta", 0.3)
            .SetParameter("tree_method", "hist").SetParameter("nthread", 1).SetParameter("base_score", 0.3);
        for (var i = 0; i < 40; i++)
        {
            booster.UpdateOneIteration(i, train);
        }

        using var fresh = new DMatrix(data, rows, features);
        var expected = booster.Predict(fresh);
        var names = Enumerable.Range(0, features).Select(i => $"f{i}").ToList();
        using var session = OnnxSessions.Load(XGBoostTreeExport.Convert(booster.SaveJson(), names));
        using var outputs = OnnxSessions.Run(session, session.InputNames[0], data, rows, features, session.OutputNames[1]);
        var probabilities = outputs[0];
        var p = probabilities.GetTensorDataAsSpan<float>();

        Assert.Equal([(long)rows, 2L], probabilities.GetTensorTypeAndShape().Shape);
        var worst = 0.0;
        for (var r = 0; r < rows; r++)
        {
            worst = Math.Max(worst, Math.Abs(p[(r * 2) + 1] - expected[r]));
        }

        Assert.True(worst < 1e-5, $"largest difference {worst}");
    }

    [Fact]
    public void A_feature_count_mismatch_is_refused()
    {
        using var m = new DMatrix(new float[20], 10, 2, new float[10]);
        using var booster = new Booster(m).SetParameter("objective", "binary:logistic");
        booster.UpdateOneIteration(0, m);

        var error = Assert.Throws<ArgumentException>(() => XGBoostTreeExport.Convert(booster.SaveJson(), ["only-one"]));

        Assert.Contains("2 features but 1 feature names", error.Message);
    }
}
