using FinServerless.Onnx.Writer;
using FinServerless.Scoring.Trees;
using FinServerless.XGBoost;

namespace FinServerless.Scoring.Tests;

/// <summary>TreeSHAP computed from the exported ONNX tree ensemble against XGBoost's own pred_contribs (real XGBoost).</summary>
public sealed class TreeShapTests
{
    [Theory]
    [InlineData(300, 6, true, "leaf-tables")]
    [InlineData(300, 6, true, "recursive")]
    [InlineData(40, 9, true, "recursive")]
    [InlineData(6, 8, true, "leaf-tables")]
    [InlineData(25, 3, false, "leaf-tables")]
    [InlineData(25, 3, false, "recursive")]
    public void Contributions_equal_xgboost_pred_contribs_and_add_up_to_the_margin(int trees, int depth, bool withNaN, string algorithm)
    {
        const int features = 9;
        const int rows = 1_500;
        var (x, y) = TreeKernelTests.Synthetic(rows: 6_000, features, seed: 5 + trees, withNaN);
        using var train = new DMatrix(x, 6_000, features, y);
        using var booster = new Booster(train)
            .SetParameter("objective", "binary:logistic").SetParameter("max_depth", depth).SetParameter("eta", 0.1)
            .SetParameter("tree_method", "hist").SetParameter("nthread", 2).SetParameter("seed", 1);
        for (var round = 0; round < trees; round++)
        {
            booster.UpdateOneIteration(round, train);
        }

        var onnx = XGBoostTreeExport.Convert(booster.SaveJson(), Enumerable.Range(0, features).Select(i => $"f{i}").ToList());
        var ensemble = TreeEnsemble.TryRead(onnx, out var reason) ?? throw new InvalidOperationException(reason);
        var shap = TreeShap.TryCreate(ensemble, out reason, recursiveOnly: algorithm == "recursive") ?? throw new InvalidOperationException(reason);
        Assert.Equal(algorithm, shap.Algorithm);

        var sample = x.AsSpan(0, rows * features).ToArray();
        Assert.True(!withNaN || sample.Any(float.IsNaN), "the sample has missing values");
        using var test = new DMatrix(sample, rows, features);
        var expected = booster.PredictContributions(test);
        var margins = booster.PredictMargin(test);
        Assert.Equal(rows * (features + 1), expected.Length);

        var phi = new double[features + 1];
        double worst = 0, worstSum = 0;
        for (var r = 0; r < rows; r++)
        {
            shap.Contributions(sample.AsSpan(r * features, features), phi);
            for (var j = 0; j <= features; j++)
            {
                worst = Math.Max(worst, Math.Abs(phi[j] - expected[(r * (features + 1)) + j]));
            }

            worstSum = Math.Max(worstSum, Math.Abs(phi.Sum() - margins[r]));
        }

        Assert.True(worst <= 1e-5, $"max |ours - pred_contribs| = {worst:E2}");

        // Rows in blocks (as batch scoring asks for them; 1,500 is not a multiple of the block) give the same values.
        var block = new double[rows * (features + 1)];
        shap.Contributions(sample, rows, block);
        double worstBlock = 0;
        for (var i = 0; i < block.Length; i++)
        {
            worstBlock = Math.Max(worstBlock, Math.Abs(block[i] - expected[i]));
        }

        Assert.True(worstBlock <= 1e-5, $"blocks: max |ours - pred_contribs| = {worstBlock:E2}");
        Assert.True(worstSum <= 1e-4, $"max |sum of contributions + bias - margin| = {worstSum:E2}");

        // Not a trivial agreement: the contributions vary, and a missing value's contribution is not always 0.
        Assert.True(expected.Where((_, i) => i % (features + 1) != features).Distinct().Count() > rows);
    }

    [Fact]
    public void A_tree_ensemble_without_covers_has_no_tree_shap_and_says_why()
    {
        var (x, y) = TreeKernelTests.Synthetic(rows: 500, features: 3, seed: 2, withNaN: false);
        var onnx = TreeKernelTests.Train("binary:logistic", x, y, 3, 3, 2);
        var model = FinServerless.Onnx.Proto.ModelProto.Parser.ParseFrom(onnx);
        var node = model.Graph.Node[0];
        node.Attribute.Remove(node.Attribute.Single(a => a.Name == "nodes_hitrates"));
        var ensemble = TreeEnsemble.TryRead(Google.Protobuf.MessageExtensions.ToByteArray(model), out var reason) ?? throw new InvalidOperationException(reason);
        Assert.Null(TreeShap.TryCreate(ensemble, out reason));
        Assert.Contains("cover", reason, StringComparison.Ordinal);
    }
}
