using Microsoft.ML.OnnxRuntime;

namespace FinServerless.Onnx.Sessions;

/// <summary>How a session runs.</summary>
public sealed record SessionSettings
{
    /// <summary>The default: sessions share the environment's global thread pool (no oversubscription when partitions run side by side).</summary>
    public static SessionSettings Shared { get; } = new();

    /// <summary>A session with its own single intra-op thread: one per partition for tree ensembles (measured faster than one shared pool).</summary>
    public static SessionSettings SingleThread { get; } = new() { OwnThreads = 1 };

    /// <summary>Threads of the session's own pool; 0 uses the global pool.</summary>
    public int OwnThreads { get; init; }

    /// <summary>Try the CUDA execution provider first; fall back to CPU with a logged reason when it is unavailable.</summary>
    public bool PreferCuda { get; init; }

    /// <summary>The CUDA device when <see cref="PreferCuda"/> is set.</summary>
    public int CudaDeviceId { get; init; }

    /// <summary>Receives diagnostic lines, such as why CUDA was not used.</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>
/// Sessions of Microsoft.ML.OnnxRuntime as the platform uses them: one process-wide environment with a global
/// intra-op pool of one thread per core, created on first use; sessions from bytes, on that pool or their own;
/// the CUDA provider when asked for and present, else CPU with the reason. ORT's own exceptions
/// (<see cref="OnnxRuntimeException"/>, carrying ORT's message) pass through unchanged.
/// </summary>
public static class OnnxSessions
{
    private static readonly Lazy<OrtEnv> Env = new(() =>
    {
        var options = new EnvironmentCreationOptions
        {
            logId = "finserverless",
            logLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR,
            threadOptions = new OrtThreadingOptions { GlobalIntraOpNumThreads = Environment.ProcessorCount, GlobalInterOpNumThreads = 1 },
        };
        return OrtEnv.CreateInstanceWithOptions(ref options);
    });

    /// <summary>The ONNX Runtime version, for example "1.31.1".</summary>
    public static string Version => Env.Value.GetVersionString();

    /// <summary>The execution providers this build of ONNX Runtime has (CPUExecutionProvider, CUDAExecutionProvider, …).</summary>
    public static IReadOnlyList<string> AvailableProviders => Env.Value.GetAvailableProviders();

    /// <summary>Loads a model from bytes.</summary>
    /// <exception cref="OnnxRuntimeException">ORT refused the model; the message is ORT's.</exception>
    public static InferenceSession Load(ReadOnlyMemory<byte> model, SessionSettings? settings = null)
    {
        settings ??= SessionSettings.Shared;
        _ = Env.Value;
        using var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        if (settings.OwnThreads > 0)
        {
            options.IntraOpNumThreads = settings.OwnThreads;
            options.InterOpNumThreads = 1;
        }
        else
        {
            options.DisablePerSessionThreads();
        }

        if (settings.PreferCuda)
        {
            TryCuda(options, settings);
        }

        return new InferenceSession(model.ToArray(), options);
    }

    /// <summary>Appends the CUDA provider when this ORT build has it and it loads; otherwise logs why scoring stays on CPU.</summary>
    private static void TryCuda(SessionOptions options, SessionSettings settings)
    {
        if (!AvailableProviders.Contains("CUDAExecutionProvider"))
        {
            settings.Log?.Invoke($"ONNX Runtime {Version} has no CUDA execution provider in this build (providers: {string.Join(", ", AvailableProviders)}); scoring on CPU.");
            return;
        }

        try
        {
            options.AppendExecutionProvider_CUDA(settings.CudaDeviceId);
        }
        catch (OnnxRuntimeException ex)
        {
            settings.Log?.Invoke($"ONNX Runtime CUDA execution provider unavailable, scoring on CPU: {ex.Message}");
        }
    }

    /// <summary>
    /// Runs a model with one float input of <paramref name="rows"/> × <paramref name="columns"/> values read in
    /// place from <paramref name="features"/> (pinned for the call, not copied) and returns the one output asked for.
    /// The caller disposes the result.
    /// </summary>
    public static IDisposableReadOnlyCollection<OrtValue> Run(InferenceSession session, string input, Memory<float> features, int rows, int columns, string output)
    {
        using var tensor = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, features[..(rows * columns)], [rows, columns]);
        using var runOptions = new RunOptions();
        return session.Run(runOptions, [input], [tensor], [output]);
    }
}
