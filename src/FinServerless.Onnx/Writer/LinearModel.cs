using FinServerless.Onnx.Proto;

namespace FinServerless.Onnx.Writer;

/// <summary>A logistic-regression model as ONNX: probability = sigmoid(features · weights + bias).</summary>
public static class LinearModel
{
    /// <summary>Name of the model's input: float [N, features].</summary>
    public const string InputName = "features";

    /// <summary>Name of the model's output: float [N, 1], the probability of the positive class.</summary>
    public const string OutputName = "probability";

    /// <summary>Writes the model; <paramref name="featureNames"/> are recorded in its metadata, in input order.</summary>
    public static byte[] Write(IReadOnlyList<string> featureNames, ReadOnlySpan<float> weights, float bias)
    {
        if (weights.Length != featureNames.Count)
        {
            throw new ArgumentException($"{weights.Length} weights were given for {featureNames.Count} features.", nameof(weights));
        }

        return new OnnxModelBuilder("logistic")
            .AddInput(InputName, TensorProto.Types.DataType.Float, "N", featureNames.Count)
            .AddInitializer("weights", weights, featureNames.Count, 1)
            .AddInitializer("bias", [bias], 1)
            .AddNode("MatMul", [InputName, "weights"], ["logit_raw"])
            .AddNode("Add", ["logit_raw", "bias"], ["logit"])
            .AddNode("Sigmoid", ["logit"], [OutputName])
            .AddOutput(OutputName, TensorProto.Types.DataType.Float, "N", 1)
            .AddMetadata("features", string.Join(",", featureNames))
            .ToBytes();
    }
}
