using System.Globalization;
using System.Text.Json;
using FinServerless.Onnx.Proto;

namespace FinServerless.Onnx.Writer;

/// <summary>
/// Converts an XGBoost binary:logistic model (its JSON, as saved by XGBoost 1.7) into an ONNX
/// <c>ai.onnx.ml.TreeEnsembleClassifier</c>: input <c>features</c> float [N, F], outputs <c>label</c> int64 [N] and
/// <c>probabilities</c> float [N, 2]; a reg:squarederror model into a <c>TreeEnsembleRegressor</c> with output
/// <c>variable</c> float [N, 1]. Each tree's nodes are listed together, root first (ORT takes the first node
/// of a tree as its root); splits are BRANCH_LT with the missing value following XGBoost's default direction;
/// the base score becomes the base value (its logit for the classifier). Each node's cover (XGBoost's sum of
/// hessians) is written as <c>nodes_hitrates</c>, which ORT does not use and TreeSHAP needs.
/// </summary>
public static class XGBoostTreeExport
{
    /// <summary>Name of the model's input.</summary>
    public const string InputName = "features";

    /// <summary>Name of the probabilities output; column 1 is the positive class.</summary>
    public const string ProbabilitiesOutput = "probabilities";

    /// <summary>Name of the regressor's output.</summary>
    public const string RegressionOutput = "variable";

    /// <summary>Writes the ONNX model; <paramref name="featureNames"/> are recorded in the model's metadata.</summary>
    public static byte[] Convert(ReadOnlySpan<byte> xgboostJson, IReadOnlyList<string> featureNames)
    {
        using var doc = JsonDocument.Parse(xgboostJson.ToArray());
        var learner = doc.RootElement.GetProperty("learner");
        var objective = learner.GetProperty("objective").GetProperty("name").GetString();
        if (objective is not ("binary:logistic" or "reg:squarederror"))
        {
            throw new NotSupportedException($"Only binary:logistic and reg:squarederror XGBoost models can be exported; this one is '{objective}'.");
        }

        var classifier = objective == "binary:logistic";

        var modelParams = learner.GetProperty("learner_model_param");
        var featureCount = int.Parse(modelParams.GetProperty("num_feature").GetString()!, CultureInfo.InvariantCulture);
        if (featureCount != featureNames.Count)
        {
            throw new ArgumentException($"The XGBoost model has {featureCount} features but {featureNames.Count} feature names were given.", nameof(featureNames));
        }

        // XGBoost 1.7 writes "5E-1"; later versions may write a one-element vector "[5E-1]".
        var baseScore = double.Parse(modelParams.GetProperty("base_score").GetString()!.Trim('[', ']'), CultureInfo.InvariantCulture);
        var baseMargin = classifier ? (float)Math.Log(baseScore / (1 - baseScore)) : (float)baseScore;

        var treeIds = new List<long>();
        var nodeIds = new List<long>();
        var featureIds = new List<long>();
        var values = new List<float>();
        var modes = new List<string>();
        var trueIds = new List<long>();
        var falseIds = new List<long>();
        var missingTrue = new List<long>();
        var covers = new List<float>();
        var leafTree = new List<long>();
        var leafNode = new List<long>();
        var leafWeight = new List<float>();

        var trees = learner.GetProperty("gradient_booster").GetProperty("model").GetProperty("trees");
        var treeIndex = 0L;
        foreach (var tree in trees.EnumerateArray())
        {
            var left = tree.GetProperty("left_children").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var right = tree.GetProperty("right_children").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var split = tree.GetProperty("split_indices").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            var condition = tree.GetProperty("split_conditions").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            var hessians = tree.GetProperty("sum_hessian").EnumerateArray().Select(e => e.GetSingle()).ToArray();
            var defaultLeft = tree.GetProperty("default_left").EnumerateArray().Select(e => e.ValueKind == JsonValueKind.True || (e.ValueKind == JsonValueKind.Number && e.GetInt32() != 0)).ToArray();

            // XGBoost numbers nodes with the root at 0, so index order lists each tree root first.
            for (var node = 0; node < left.Length; node++)
            {
                treeIds.Add(treeIndex);
                nodeIds.Add(node);
                covers.Add(hessians[node]);
                if (left[node] < 0)
                {
                    featureIds.Add(0);
                    values.Add(0);
                    modes.Add("LEAF");
                    trueIds.Add(0);
                    falseIds.Add(0);
                    missingTrue.Add(0);
                    leafTree.Add(treeIndex);
                    leafNode.Add(node);
                    leafWeight.Add(condition[node]);
                }
                else
                {
                    featureIds.Add(split[node]);
                    values.Add(condition[node]);
                    modes.Add("BRANCH_LT");
                    trueIds.Add(left[node]);
                    falseIds.Add(right[node]);
                    missingTrue.Add(defaultLeft[node] ? 1 : 0);
                }
            }

            treeIndex++;
        }

        var prefix = classifier ? "class_" : "target_";
        var builder = new OnnxModelBuilder("xgboost", opset: 17, mlOpset: 3)
            .AddInput(InputName, TensorProto.Types.DataType.Float, "N", featureNames.Count);
        AttributeProto[] nodes =
        [
            OnnxModelBuilder.Ints("nodes_treeids", treeIds),
            OnnxModelBuilder.Ints("nodes_nodeids", nodeIds),
            OnnxModelBuilder.Ints("nodes_featureids", featureIds),
            OnnxModelBuilder.Floats("nodes_values", values),
            OnnxModelBuilder.Strings("nodes_modes", modes),
            OnnxModelBuilder.Ints("nodes_truenodeids", trueIds),
            OnnxModelBuilder.Ints("nodes_falsenodeids", falseIds),
            OnnxModelBuilder.Ints("nodes_missing_value_tracks_true", missingTrue),
            OnnxModelBuilder.Floats("nodes_hitrates", covers),
            OnnxModelBuilder.Ints(prefix + "treeids", leafTree),
            OnnxModelBuilder.Ints(prefix + "nodeids", leafNode),
            OnnxModelBuilder.Ints(prefix + "ids", leafTree.Select(_ => 0L)),
            OnnxModelBuilder.Floats(prefix + "weights", leafWeight),
            OnnxModelBuilder.Floats("base_values", [baseMargin]),
        ];
        if (classifier)
        {
            builder
                .AddNode("TreeEnsembleClassifier", [InputName], ["label", ProbabilitiesOutput], "ai.onnx.ml", [.. nodes, OnnxModelBuilder.Ints("classlabels_int64s", [0, 1]), OnnxModelBuilder.String("post_transform", "LOGISTIC")])
                .AddOutput("label", TensorProto.Types.DataType.Int64, "N")
                .AddOutput(ProbabilitiesOutput, TensorProto.Types.DataType.Float, "N", 2);
        }
        else
        {
            builder
                .AddNode("TreeEnsembleRegressor", [InputName], [RegressionOutput], "ai.onnx.ml", [.. nodes, OnnxModelBuilder.Int("n_targets", 1), OnnxModelBuilder.String("post_transform", "NONE")])
                .AddOutput(RegressionOutput, TensorProto.Types.DataType.Float, "N", 1);
        }

        return builder
            .AddMetadata("features", string.Join(",", featureNames))
            .AddMetadata("converted_from", $"xgboost {objective}")
            .ToBytes();
    }
}
