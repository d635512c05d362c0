namespace FinServerless.Onnx.Runtime;

/// <summary>How a session runs: threads, graph optimization, execution mode, device.</summary>
public sealed record SessionOptions
{
    /// <summary>Use the environment's shared thread pool (default). When false, the session gets its own pools.</summary>
    public bool UseGlobalThreadPool { get; init; } = true;

    /// <summary>Intra-op threads for a session with its own pools (ignored with the global pool).</summary>
    public int IntraOpThreads { get; init; }

    /// <summary>Inter-op threads for a session with its own pools (ignored with the global pool).</summary>
    public int InterOpThreads { get; init; }

    /// <summary>Graph optimization level: 0 none, 1 basic, 2 extended, 99 all (default).</summary>
    public int GraphOptimizationLevel { get; init; } = 99;

    /// <summary>Run independent nodes in parallel (inter-op) instead of sequentially.</summary>
    public bool ParallelExecution { get; init; }

    /// <summary>Try the CUDA execution provider first; fall back to CPU with a logged reason when unavailable.</summary>
    public bool PreferCuda { get; init; }

    /// <summary>The CUDA device to use when <see cref="PreferCuda"/> is set.</summary>
    public int CudaDeviceId { get; init; }

    /// <summary>Extra session config entries (AddSessionConfigEntry).</summary>
    public IReadOnlyDictionary<string, string>? ConfigEntries { get; init; }

    /// <summary>Receives diagnostic lines, such as why CUDA was not used.</summary>
    public Action<string>? Log { get; init; }
}
