using FinServerless.Onnx.Proto;

namespace FinServerless.Onnx.Writer;

/// <summary>
/// A binned (weight-of-evidence) logistic scorecard as ONNX. Each feature's bins are (-inf, t1], (t1, t2], …,
/// (tk, inf) plus a missing (NaN) bin, each with a logit contribution. The graph computes
/// <c>logit = base + Σ step(x &gt; t)·delta + Σ isnan(x)·missingDelta</c> with Gather/Greater/IsNaN/Cast/MatMul,
/// then <c>probability = sigmoid(logit)</c> [N, 1] and <c>score = offset − factor·logit</c> [N, 1] in points.
/// </summary>
public static class ScorecardExport
{
    /// <summary>Name of the probability output.</summary>
    public const string OutputName = "probability";

    /// <summary>Name of the points output.</summary>
    public const string ScoreOutput = "score";

    /// <summary>One feature's bins: ascending upper edges, a contribution per bin (edges + 1), and the missing bin's.</summary>
    public sealed record FeatureBins(float[] Thresholds, float[] Contributions, float Missing);

    /// <summary>Writes the model; <paramref name="intercept"/> is added to every logit.</summary>
    public static byte[] Write(IReadOnlyList<string> featureNames, IReadOnlyList<FeatureBins> bins, float intercept, float offset, float factor)
    {
        var f = featureNames.Count;
        if (bins.Count != f)
        {
            throw new ArgumentException($"{bins.Count} binnings were given for {f} features.", nameof(bins));
        }

        var gather = new List<long>();
        var thresholds = new List<float>();
        var deltas = new List<float>();
        var missing = new float[f];
        var baseLogit = intercept;
        for (var j = 0; j < f; j++)
        {
            var b = bins[j];
            if (b.Contributions.Length != b.Thresholds.Length + 1)
            {
                throw new ArgumentException($"Feature '{featureNames[j]}' has {b.Thresholds.Length} thresholds but {b.Contributions.Length} contributions.", nameof(bins));
            }

            baseLogit += b.Contributions[0];
            missing[j] = b.Missing - b.Contributions[0];
            for (var t = 0; t < b.Thresholds.Length; t++)
            {
                gather.Add(j);
                thresholds.Add(b.Thresholds[t]);
                deltas.Add(b.Contributions[t + 1] - b.Contributions[t]);
            }
        }

        var builder = new OnnxModelBuilder("scorecard")
            .AddInput(XGBoostTreeExport.InputName, TensorProto.Types.DataType.Float, "N", f)
            .AddInitializer("missing_delta", missing, f, 1)
            .AddInitializer("base", [baseLogit], 1)
            .AddInitializer("offset", [offset], 1)
            .AddInitializer("factor", [factor], 1)
            .AddNode("IsNaN", [XGBoostTreeExport.InputName], ["is_missing"])
            .AddNode("Cast", ["is_missing"], ["missing_flags"], null, OnnxModelBuilder.Int("to", (long)TensorProto.Types.DataType.Float))
            .AddNode("MatMul", ["missing_flags", "missing_delta"], ["missing_part"]);
        var partial = "missing_part";
        if (thresholds.Count > 0)
        {
            builder.AddInitializer("gather", gather.ToArray(), gather.Count)
                .AddInitializer("thresholds", thresholds.ToArray(), thresholds.Count)
                .AddInitializer("deltas", deltas.ToArray(), deltas.Count, 1)
                .AddNode("Gather", [XGBoostTreeExport.InputName, "gather"], ["repeated"], null, OnnxModelBuilder.Int("axis", 1))
                .AddNode("Greater", ["repeated", "thresholds"], ["above"])
                .AddNode("Cast", ["above"], ["steps"], null, OnnxModelBuilder.Int("to", (long)TensorProto.Types.DataType.Float))
                .AddNode("MatMul", ["steps", "deltas"], ["step_part"])
                .AddNode("Add", ["step_part", "missing_part"], ["bins_part"]);
            partial = "bins_part";
        }

        return builder.AddNode("Add", [partial, "base"], ["logit"])
            .AddNode("Sigmoid", ["logit"], [OutputName])
            .AddNode("Mul", ["logit", "factor"], ["scaled"])
            .AddNode("Sub", ["offset", "scaled"], [ScoreOutput])
            .AddOutput(OutputName, TensorProto.Types.DataType.Float, "N", 1)
            .AddOutput(ScoreOutput, TensorProto.Types.DataType.Float, "N", 1)
            .AddMetadata("features", string.Join(",", featureNames))
            .ToBytes();
    }
}
