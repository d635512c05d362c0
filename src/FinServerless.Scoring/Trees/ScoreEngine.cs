namespace FinServerless.Scoring.Trees;

/// <summary>
/// Which engine scores a model (setting <c>FINSERVERLESS_SCORE_ENGINE</c>): <c>auto</c> (the default: the tree fast
/// path for tree ensembles it fully supports, ONNX Runtime for everything else), <c>onnxruntime</c> (always ORT), or
/// one tree kernel forced (<c>tree-avx512</c>, <c>tree-avx2</c>, <c>tree-scalar</c>; loading a model the kernel cannot
/// run fails, naming why).
/// </summary>
public enum ScoreEngine
{
    /// <summary>The fast path where it applies, otherwise ONNX Runtime.</summary>
    Auto,

    /// <summary>ONNX Runtime for every model.</summary>
    OnnxRuntime,

    /// <summary>The AVX-512 tree kernel.</summary>
    TreeAvx512,

    /// <summary>The AVX2 tree kernel.</summary>
    TreeAvx2,

    /// <summary>The scalar tree kernel.</summary>
    TreeScalar,
}

/// <summary>The setting's names for <see cref="ScoreEngine"/>.</summary>
public static class ScoreEngines
{
    /// <summary>The environment setting.</summary>
    public const string Setting = "FINSERVERLESS_SCORE_ENGINE";

    private static readonly (string Name, ScoreEngine Engine)[] Names =
    [
        ("auto", ScoreEngine.Auto), ("onnxruntime", ScoreEngine.OnnxRuntime), ("tree-avx512", ScoreEngine.TreeAvx512), ("tree-avx2", ScoreEngine.TreeAvx2), ("tree-scalar", ScoreEngine.TreeScalar),
    ];

    /// <summary>The engine a setting names; blank means <see cref="ScoreEngine.Auto"/>.</summary>
    /// <exception cref="ArgumentException">The value is none of the names; the message lists them.</exception>
    public static ScoreEngine Parse(string? value, string source = Setting)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return ScoreEngine.Auto;
        }

        foreach (var (name, engine) in Names)
        {
            if (string.Equals(value.Trim(), name, StringComparison.OrdinalIgnoreCase))
            {
                return engine;
            }
        }

        throw new ArgumentException($"{source} must be one of {string.Join(", ", Names.Select(n => n.Name))}; it is not one of them.");
    }

    /// <summary>The setting's name for <paramref name="engine"/>.</summary>
    public static string Name(ScoreEngine engine) => Names.First(n => n.Engine == engine).Name;

    /// <summary>The kernel a forced engine names, or null for auto / onnxruntime.</summary>
    public static TreeKernelKind? Kernel(ScoreEngine engine) => engine switch
    {
        ScoreEngine.TreeAvx512 => TreeKernelKind.Avx512,
        ScoreEngine.TreeAvx2 => TreeKernelKind.Avx2,
        ScoreEngine.TreeScalar => TreeKernelKind.Scalar,
        _ => null,
    };
}
