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
        using var trees = new TrainedTrees(rows, features);
        var (data, booster) = (trees.Data, trees.Booster);

        using var fresh = new DMatrix(data, rows, features);
        var expected = booster.Predict(fresh);
        using var session = OnnxSessions.Load(trees.Onnx);
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
