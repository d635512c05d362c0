using System.Text.Json;

namespace FinServerless.XGBoost.Tests;

public sealed class XGBoostCApiTests
{
    [Fact]
    public void The_library_is_XGBoost_1_7()
    {
        Assert.StartsWith("1.7.", Booster.LibraryVersion);
    }

    [Fact]
    public void Training_through_the_C_API_learns_a_signal_and_the_saved_model_predicts_the_same()
    {
        var (data, labels) = Synthetic(rows: 4_000, features: 5, seed: 7);
        using var train = new DMatrix(data, 4_000, 5, labels);
        using var booster = new Booster(train)
            .SetParameter("objective", "binary:logistic")
            .SetParameter("eval_metric", "auc")
            .SetParameter("max_depth", 3)
            .SetParameter("eta", 0.3)
            .SetParameter("nthread", 1)
            .SetParameter("seed", 1);

        string evaluation = string.Empty;
        for (var round = 0; round < 20; round++)
        {
            booster.UpdateOneIteration(round, train);
            evaluation = booster.EvaluateOneIteration(round, (train, "train"));
        }

        var auc = double.Parse(evaluation.Split("train-auc:")[1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(auc > 0.9, $"train AUC {auc} should show the planted signal");

        var (fresh, _) = Synthetic(rows: 200, features: 5, seed: 8);
        using var test = new DMatrix(fresh, 200, 5);
        var before = booster.Predict(test);
        var json = booster.SaveJson();
        using var reloaded = Booster.Load(json);
        var after = reloaded.Predict(test);

        Assert.Equal(before, after);
        using var doc = JsonDocument.Parse(json);
        Assert.True(doc.RootElement.GetProperty("learner").TryGetProperty("gradient_booster", out _));
    }

    [Fact]
    public void Missing_values_are_NaN_and_accepted()
    {
        float[] data = [1f, float.NaN, float.NaN, 2f, 3f, 4f];
        using var m = new DMatrix(data, 3, 2, [0f, 1f, 0f]);
        using var booster = new Booster(m).SetParameter("objective", "binary:logistic");
        booster.UpdateOneIteration(0, m);

        var p = booster.Predict(m);

        Assert.Equal(3, p.Length);
        Assert.All(p, v => Assert.InRange(v, 0f, 1f));
    }

    [Fact]
    public void A_bad_parameter_surfaces_XGBoosts_message()
    {
        var (data, labels) = Synthetic(rows: 50, features: 2, seed: 1);
        using var m = new DMatrix(data, 50, 2, labels);
        using var booster = new Booster(m).SetParameter("objective", "binary:not-an-objective");

        var error = Assert.Throws<XGBoostException>(() => booster.UpdateOneIteration(0, m));

        Assert.Contains("not-an-objective", error.Message);
        Assert.DoesNotContain("Stack trace", error.Message);
    }

    [Fact]
    public void A_shape_mismatch_is_refused_with_the_counts()
    {
        var error = Assert.Throws<ArgumentException>(() => new DMatrix(new float[5], 2, 3));

        Assert.Contains("2 rows × 3 columns need 6 values", error.Message);
    }

    private static (float[] Data, float[] Labels) Synthetic(int rows, int features, int seed)
    {
        var random = new Random(seed);
        var data = new float[rows * features];
        var labels = new float[rows];
        for (var r = 0; r < rows; r++)
        {
            for (var f = 0; f < features; f++)
            {
                data[(r * features) + f] = (float)random.NextDouble();
            }

            labels[r] = data[r * features] + (0.5f * data[(r * features) + 1]) + (0.3f * (float)random.NextDouble()) > 0.9f ? 1f : 0f;
        }

        return (data, labels);
    }
}
