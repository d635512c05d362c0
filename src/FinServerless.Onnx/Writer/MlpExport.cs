using FinServerless.Onnx.Proto;

namespace FinServerless.Onnx.Writer;

/// <summary>
/// A multilayer perceptron as ONNX, with its input preparation inside the graph: clip each feature to the
/// training range (Max, Min), standardize (Sub, Div), then Gemm/Relu layers and a Sigmoid. Input
/// <c>features</c> float [N, F]; output <c>probability</c> float [N, 1].
/// </summary>
public static class MlpExport
{
    /// <summary>Name of the model's output.</summary>
    public const string OutputName = "probability";

    /// <summary>One dense layer: weight [out, in] row-major, bias [out].</summary>
    public sealed record Layer(float[] Weight, float[] Bias)
    {
        /// <summary>Number of outputs.</summary>
        public int Outputs => Bias.Length;

        /// <summary>Number of inputs.</summary>
        public int Inputs => Weight.Length / Bias.Length;
    }

    /// <summary>Per-feature preparation applied before the first layer.</summary>
    public sealed record Preparation(float[] Low, float[] High, float[] Mean, float[] Scale);

    /// <summary>
    /// A graph over input <c>features</c> [N, F]: each feature clipped to the training range (Max, Min) and
    /// standardized (Sub, Div) into <c>h0</c>, then Gemm layers with Relu between them, the last one's output named
    /// <paramref name="lastOutput"/> (the MLP's logit, the autoencoder's reconstruction).
    /// </summary>
    internal static OnnxModelBuilder Dense(string graph, IReadOnlyList<string> featureNames, Preparation preparation, IReadOnlyList<Layer> layers, string lastOutput)
    {
        var f = featureNames.Count;
        foreach (var v in new[] { preparation.Low, preparation.High, preparation.Mean, preparation.Scale })
        {
            if (v.Length != f)
            {
                throw new ArgumentException($"Each preparation vector needs {f} values.", nameof(preparation));
            }
        }

        var builder = new OnnxModelBuilder(graph)
            .AddInput(XGBoostTreeExport.InputName, TensorProto.Types.DataType.Float, "N", f)
            .AddInitializer("clip_low", preparation.Low, f)
            .AddInitializer("clip_high", preparation.High, f)
            .AddInitializer("mean", preparation.Mean, f)
            .AddInitializer("scale", preparation.Scale, f)
            .AddNode("Max", [XGBoostTreeExport.InputName, "clip_low"], ["clipped_low"])
            .AddNode("Min", ["clipped_low", "clip_high"], ["clipped"])
            .AddNode("Sub", ["clipped", "mean"], ["centered"])
            .AddNode("Div", ["centered", "scale"], ["h0"]);
        for (var i = 0; i < layers.Count; i++)
        {
            var layer = layers[i];
            builder.AddInitializer($"W{i}", layer.Weight, layer.Outputs, layer.Inputs)
                .AddInitializer($"b{i}", layer.Bias, layer.Outputs)
                .AddNode("Gemm", [$"h{i}", $"W{i}", $"b{i}"], [i == layers.Count - 1 ? lastOutput : $"z{i}"], null, OnnxModelBuilder.Int("transB", 1));
            if (i < layers.Count - 1)
            {
                builder.AddNode("Relu", [$"z{i}"], [$"h{i + 1}"]);
            }
        }

        return builder;
    }

    /// <summary>Writes the model; hidden layers get Relu, the last layer (one output, a logit) gets Sigmoid.</summary>
    public static byte[] Write(IReadOnlyList<string> featureNames, Preparation preparation, IReadOnlyList<Layer> layers)
    {
        var f = featureNames.Count;
        if (layers.Count == 0 || layers[0].Inputs != f || layers[^1].Outputs != 1)
        {
            throw new ArgumentException($"An MLP over {f} features needs layers starting with {f} inputs and ending with one output.", nameof(layers));
        }

        return Dense("mlp", featureNames, preparation, layers, "logit")
            .AddNode("Sigmoid", ["logit"], [OutputName])
            .AddOutput(OutputName, TensorProto.Types.DataType.Float, "N", 1)
            .AddMetadata("features", string.Join(",", featureNames))
            .ToBytes();
    }
}
