using FinServerless.Onnx.Proto;

namespace FinServerless.Onnx.Writer;

/// <summary>
/// A dense autoencoder as ONNX, scored by its reconstruction error: the input prepared as the MLP's is (clip to the
/// training range, standardize), Gemm/Relu layers down and back up, a linear last layer as wide as the input, then
/// the mean over features of the squared difference between the reconstruction and the prepared input. Input
/// <c>features</c> float [N, F]; output <c>outlier_score</c> float [N, 1].
/// </summary>
public static class AutoencoderExport
{
    /// <summary>Name of the model's output.</summary>
    public const string OutputName = "outlier_score";

    /// <summary>Writes the model; every layer but the last gets Relu.</summary>
    public static byte[] Write(IReadOnlyList<string> featureNames, MlpExport.Preparation preparation, IReadOnlyList<MlpExport.Layer> layers)
    {
        var f = featureNames.Count;
        if (layers.Count < 2 || layers[0].Inputs != f || layers[^1].Outputs != f)
        {
            throw new ArgumentException($"An autoencoder over {f} features needs at least two layers, starting with {f} inputs and ending with {f} outputs.", nameof(layers));
        }

        return MlpExport.Dense("autoencoder", featureNames, preparation, layers, "reconstruction")
            .AddNode("Sub", ["reconstruction", "h0"], ["residual"])
            .AddNode("Mul", ["residual", "residual"], ["squared"])
            .AddNode("ReduceMean", ["squared"], [OutputName], null, OnnxModelBuilder.Ints("axes", [1]), OnnxModelBuilder.Int("keepdims", 1))
            .AddOutput(OutputName, TensorProto.Types.DataType.Float, "N", 1)
            .AddMetadata("features", string.Join(",", featureNames))
            .ToBytes();
    }
}
