using System.Security.Cryptography;
using FinServerless.Onnx.Runtime;

namespace FinServerless.Scoring;

/// <summary>A model version ready to score: its manifest and an ONNX Runtime session, integrity checked.</summary>
public sealed class LoadedModel : IDisposable
{
    private readonly ReadOnlyMemory<byte> _onnx;

    private LoadedModel(ModelManifest manifest, InferenceSession session, int probabilityOutput, ReadOnlyMemory<byte> onnx)
    {
        Manifest = manifest;
        Session = session;
        ProbabilityOutputIndex = probabilityOutput;
        _onnx = onnx;
    }

    /// <summary>
    /// Another session on the same (already verified) model with its own single thread: partitions scored
    /// side by side each get one (measured faster than sharing one pool for tree ensembles).
    /// </summary>
    public InferenceSession CreateSingleThreadSession() =>
        InferenceSession.Load(_onnx, new SessionOptions { UseGlobalThreadPool = false, IntraOpThreads = 1, InterOpThreads = 1 });

    /// <summary>The manifest.</summary>
    public ModelManifest Manifest { get; }

    /// <summary>The session (safe for concurrent runs).</summary>
    public InferenceSession Session { get; }

    /// <summary>Index of the probability output among the session's outputs.</summary>
    public int ProbabilityOutputIndex { get; }

    /// <summary>
    /// Checks the ONNX bytes against the manifest's SHA-256, loads them, and checks that the model's input
    /// takes as many features as the manifest lists.
    /// </summary>
    public static LoadedModel Load(ModelManifest manifest, ReadOnlyMemory<byte> onnx, string source, SessionOptions? options = null)
    {
        var actual = Convert.ToHexStringLower(SHA256.HashData(onnx.Span));
        if (!string.Equals(actual, manifest.Onnx.Sha256, StringComparison.OrdinalIgnoreCase))
        {
            throw new ModelException(
                $"Model {manifest.Id}: {source} has SHA-256 {actual} but its manifest says {manifest.Onnx.Sha256}. The file was changed or corrupted after registration; it will not be loaded.");
        }

        var session = InferenceSession.Load(onnx, options);
        try
        {
            var input = session.Inputs.FirstOrDefault(i => i.Name == manifest.Onnx.Input)
                ?? throw new ModelException($"Model {manifest.Id}: the ONNX model has no input '{manifest.Onnx.Input}'; its inputs are {string.Join(", ", session.Inputs)}.");
            if (input.ElementType != TensorElementType.Float || input.Shape.Count != 2 || (input.Shape[1] > 0 && input.Shape[1] != manifest.Features.Count))
            {
                throw new ModelException($"Model {manifest.Id}: the ONNX input is {input} but the manifest lists {manifest.Features.Count} float features; expected float[N,{manifest.Features.Count}].");
            }

            var output = Enumerable.Range(0, session.Outputs.Count).FirstOrDefault(i => session.Outputs[i].Name == manifest.Onnx.ProbabilityOutput, -1);
            if (output < 0)
            {
                throw new ModelException($"Model {manifest.Id}: the ONNX model has no output '{manifest.Onnx.ProbabilityOutput}'; its outputs are {string.Join(", ", session.Outputs)}.");
            }

            return new LoadedModel(manifest, session, output, onnx);
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

        using var tensor = OrtValue.CreateTensor<float>(features, [rows, Manifest.Features.Count]);
        var outputs = (session ?? Session).Run([tensor], [ProbabilityOutputIndex]);
        using var probabilities = outputs[0];
        var p = probabilities.GetTensorData<float>();
        var width = probabilities.Shape.Count == 2 ? (int)probabilities.Shape[1] : 1;
        var column = Math.Min(Manifest.Onnx.ProbabilityColumn, width - 1);
        for (var r = 0; r < rows; r++)
        {
            result[r] = p[(r * width) + column];
        }

        return result;
    }

    /// <inheritdoc/>
    public void Dispose() => Session.Dispose();
}
