using System.Security.Cryptography;
using FinServerless.Onnx.Sessions;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FinServerless.Scoring;

/// <summary>A model version ready to score: its manifest and an ONNX Runtime session, integrity checked.</summary>
public sealed class LoadedModel : IDisposable
{
    private readonly ReadOnlyMemory<byte> _onnx;

    private LoadedModel(ModelManifest manifest, InferenceSession session, ReadOnlyMemory<byte> onnx)
    {
        Manifest = manifest;
        Session = session;
        _onnx = onnx;
    }

    /// <summary>
    /// Another session on the same (already verified) model with its own single thread: partitions scored
    /// side by side each get one (measured faster than sharing one pool for tree ensembles).
    /// </summary>
    public InferenceSession CreateSingleThreadSession() => OnnxSessions.Load(_onnx, SessionSettings.SingleThread);

    /// <summary>The manifest.</summary>
    public ModelManifest Manifest { get; }

    /// <summary>The session (safe for concurrent runs).</summary>
    public InferenceSession Session { get; }

    /// <summary>
    /// Checks the ONNX bytes against the manifest's SHA-256, loads them, and checks that the model's input
    /// takes as many features as the manifest lists.
    /// </summary>
    public static LoadedModel Load(ModelManifest manifest, ReadOnlyMemory<byte> onnx, string source, SessionSettings? settings = null)
    {
        var actual = Convert.ToHexStringLower(SHA256.HashData(onnx.Span));
        if (!string.Equals(actual, manifest.Onnx.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new ModelException(
                $"Model {manifest.Id}: {source} has SHA-256 {actual} but its manifest says {manifest.Onnx.Sha256}. The file was changed or corrupted after registration; it will not be loaded.");
        }

        var session = OnnxSessions.Load(onnx, settings);
        try
        {
            if (!session.InputMetadata.TryGetValue(manifest.Onnx.Input, out var input))
            {
                throw new ModelException($"Model {manifest.Id}: the ONNX model has no input '{manifest.Onnx.Input}'; its inputs are {Describe(session.InputMetadata)}.");
            }

            if (input.ElementDataType != TensorElementType.Float || input.Dimensions.Length != 2 || (input.Dimensions[1] > 0 && input.Dimensions[1] != manifest.Features.Count))
            {
                throw new ModelException($"Model {manifest.Id}: the ONNX input is {Describe(manifest.Onnx.Input, input)} but the manifest lists {manifest.Features.Count} float features; expected float[N,{manifest.Features.Count}].");
            }

            if (!session.OutputMetadata.ContainsKey(manifest.Onnx.ProbabilityOutput))
            {
                throw new ModelException($"Model {manifest.Id}: the ONNX model has no output '{manifest.Onnx.ProbabilityOutput}'; its outputs are {Describe(session.OutputMetadata)}.");
            }

            return new LoadedModel(manifest, session, onnx);
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Probabilities of default for <paramref name="rows"/> rows of model input (float, rows × features, missing
    /// values already imputed as the manifest says), through <paramref name="session"/> (default: the model's own).
    /// </summary>
    public float[] Predict(Memory<float> features, int rows, InferenceSession? session = null)
    {
        var result = new float[rows];
        if (rows == 0)
        {
            return result;
        }

        using var outputs = OnnxSessions.Run(session ?? Session, Manifest.Onnx.Input, features, rows, Manifest.Features.Count, Manifest.Onnx.ProbabilityOutput);
        var probabilities = outputs[0];
        var p = probabilities.GetTensorDataAsSpan<float>();
        var shape = probabilities.GetTensorTypeAndShape().Shape;
        var width = shape.Length == 2 ? (int)shape[1] : 1;
        var column = Math.Min(Manifest.Onnx.ProbabilityColumn, width - 1);
        for (var r = 0; r < rows; r++)
        {
            result[r] = p[(r * width) + column];
        }

        return result;
    }

    /// <inheritdoc/>
    public void Dispose() => Session.Dispose();

    private static string Describe(IReadOnlyDictionary<string, NodeMetadata> nodes) => string.Join(", ", nodes.Select(n => Describe(n.Key, n.Value)));

    private static string Describe(string name, NodeMetadata node) =>
        node.IsTensor ? $"{name}: {node.ElementDataType}[{string.Join(",", node.Dimensions.Select(d => d < 0 ? "N" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]" : $"{name}: {node.OnnxValueType}";
}
