using System.Buffers;
using System.Security.Cryptography;
using FinServerless.Onnx.Sessions;
using FinServerless.Scoring.Trees;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FinServerless.Scoring;

/// <summary>A model version ready to score: its manifest and an ONNX Runtime session, integrity checked.</summary>
public sealed class LoadedModel : IDisposable
{
    /// <summary>The most rows a call of <see cref="Predict"/> runs on bound values (ScoreBatch's small batches); larger ones run over the caller's buffer.</summary>
    public const int BoundRows = 1024;

    private readonly ReadOnlyMemory<byte> _onnx;
    private readonly BoundRunner? _bound;

    private readonly TreeKernel? _kernel;

    private LoadedModel(ModelManifest manifest, InferenceSession session, ReadOnlyMemory<byte> onnx, TreeKernel? kernel, string engine, TreeShap? shap)
    {
        Shap = shap;
        Manifest = manifest;
        Session = session;
        _onnx = onnx;
        _kernel = kernel;
        Engine = engine;
        _bound = BoundRunner.FixedWidth(session, manifest.Onnx.ProbabilityOutput) is null
            ? null
            : new BoundRunner(session, manifest.Onnx.Input, manifest.Features.Count, manifest.Onnx.ProbabilityOutput, BoundRows);
    }

    /// <summary>Whether small batches on the model's own session run on bound values (the probability output has a fixed width).</summary>
    public bool SmallBatchesBound => _bound is not null;

    /// <summary>
    /// Another session on the same (already verified) model with its own single thread: partitions scored
    /// side by side each get one (measured faster than sharing one pool for tree ensembles).
    /// </summary>
    public InferenceSession CreateSingleThreadSession() => OnnxSessions.Load(_onnx, SessionSettings.SingleThread);

    /// <summary>The manifest.</summary>
    public ModelManifest Manifest { get; }

    /// <summary>
    /// What computes this model's probabilities, in words: the tree fast path and its kernel, or ONNX Runtime and, when
    /// the model is a tree ensemble the fast path was not used for, why (recorded in each score run's manifest).
    /// </summary>
    public string Engine { get; }

    /// <summary>TreeSHAP over the model's trees, when its manifest's reasons are <c>tree-shap</c> and the ONNX trees carry covers.</summary>
    public TreeShap? Shap { get; }

    /// <summary>Whether the tree fast path scores this model (then <see cref="Predict"/> ignores the session it is given).</summary>
    public bool FastPath => _kernel is not null;

    /// <summary>The session (safe for concurrent runs).</summary>
    public InferenceSession Session { get; }

    /// <summary>
    /// Checks the ONNX bytes against the manifest's SHA-256, loads them, and checks that the model's input
    /// takes as many features as the manifest lists.
    /// </summary>
    /// <remarks>
    /// <paramref name="engine"/> (setting <see cref="ScoreEngines.Setting"/>) picks the tree fast path or ONNX Runtime;
    /// a forced kernel the model or the CPU cannot run fails here, naming why.
    /// </remarks>
    public static LoadedModel Load(ModelManifest manifest, ReadOnlyMemory<byte> onnx, string source, SessionSettings? settings = null, ScoreEngine engine = ScoreEngine.Auto)
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

            // The trees are read only for what needs them: the fast path, or TreeSHAP reasons.
            var wantsShap = manifest.Reasons?.Method == ReasonModel.TreeShap;
            var notTrees = "the engine is onnxruntime";
            var trees = engine == ScoreEngine.OnnxRuntime && !wantsShap ? null : TreeEnsemble.TryRead(onnx.Span, out notTrees);
            var (kernel, description) = ChooseKernel(manifest, trees, notTrees, engine);
            TreeShap? shap = null;
            if (wantsShap)
            {
                shap = (trees is null ? null : TreeShap.TryCreate(trees, out notTrees))
                    ?? throw new ModelException($"Model {manifest.Id}: its manifest explains scores by TreeSHAP, but {notTrees}.");
            }

            return new LoadedModel(manifest, session, onnx, kernel, description, shap);
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
    /// On the model's own session a batch of at most <see cref="BoundRows"/> rows runs on bound values
    /// (<see cref="BoundRunner"/>, one binding per concurrent caller); anything else runs over the caller's buffer.
    /// Both give the same probabilities.
    /// </summary>
    /// <exception cref="OnnxRuntimeException">ORT refused the run; the message is ORT's.</exception>
    public float[] Predict(Memory<float> features, int rows, InferenceSession? session = null)
    {
        var result = new float[rows];
        if (rows == 0)
        {
            return result;
        }

        if (_kernel is not null)
        {
            _kernel.Predict(features.Span[..(rows * Manifest.Features.Count)], rows, result);
            Manifest.Calibration?.ApplyInPlace(result);
            return result;
        }

        if (_bound is not null && rows <= _bound.MaxRows && (session is null || ReferenceEquals(session, Session)))
        {
            var width = _bound.OutputWidth;
            var outputs = ArrayPool<float>.Shared.Rent(rows * width);
            try
            {
                _bound.Run(features, rows, outputs);
                Column(outputs, width, result);
            }
            finally
            {
                ArrayPool<float>.Shared.Return(outputs);
            }

            return result;
        }

        using var values = OnnxSessions.Run(session ?? Session, Manifest.Onnx.Input, features, rows, Manifest.Features.Count, Manifest.Onnx.ProbabilityOutput);
        var probabilities = values[0];
        var shape = probabilities.GetTensorTypeAndShape().Shape;
        Column(probabilities.GetTensorDataAsSpan<float>(), shape.Length == 2 ? (int)shape[1] : 1, result);
        return result;
    }

    private static (TreeKernel? Kernel, string Engine) ChooseKernel(ModelManifest manifest, TreeEnsemble? trees, string reason, ScoreEngine engine)
    {
        if (engine == ScoreEngine.OnnxRuntime)
        {
            return (null, $"onnxruntime ({ScoreEngines.Setting}=onnxruntime)");
        }

        var forced = ScoreEngines.Kernel(engine);
        if (trees is not null && (trees.OutputName != manifest.Onnx.ProbabilityOutput || trees.OutputColumn != manifest.Onnx.ProbabilityColumn))
        {
            reason = $"the manifest reads column {manifest.Onnx.ProbabilityColumn} of '{manifest.Onnx.ProbabilityOutput}', not the column the fast path computes";
            trees = null;
        }

        TreeKernel? kernel = null;
        if (trees is not null)
        {
            kernel = forced is { } kind ? TreeKernel.TryCreate(trees, kind, out reason) : TreeKernel.Create(trees);
        }

        if (kernel is not null)
        {
            return (kernel, $"tree fast path ({kernel.Kind.ToString().ToLowerInvariant()}, {trees!.Roots.Count} trees, depth {trees.Depth})");
        }

        if (forced is not null)
        {
            throw new ModelException($"Model {manifest.Id}: {ScoreEngines.Setting}={ScoreEngines.Name(engine)} cannot score it: {reason}.");
        }

        return (null, $"onnxruntime (tree fast path not used: {reason})");
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _bound?.Dispose();
        Session.Dispose();
    }

    /// <summary>The manifest's probability column of each row of <paramref name="values"/> (rows × <paramref name="width"/>).</summary>
    private void Column(ReadOnlySpan<float> values, int width, float[] result)
    {
        var column = Math.Min(Manifest.Onnx.ProbabilityColumn, width - 1);
        for (var r = 0; r < result.Length; r++)
        {
            result[r] = values[(r * width) + column];
        }

        // The manifest's calibration turns the model's output into the probability of default, on every path.
        Manifest.Calibration?.ApplyInPlace(result);
    }

    private static string Describe(IReadOnlyDictionary<string, NodeMetadata> nodes) => string.Join(", ", nodes.Select(n => Describe(n.Key, n.Value)));

    private static string Describe(string name, NodeMetadata node) =>
        node.IsTensor ? $"{name}: {node.ElementDataType}[{string.Join(",", node.Dimensions.Select(d => d < 0 ? "N" : d.ToString(System.Globalization.CultureInfo.InvariantCulture)))}]" : $"{name}: {node.OnnxValueType}";
}
