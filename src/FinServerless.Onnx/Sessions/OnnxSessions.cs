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
            loggingFunction = OrtLog,
        };
        return OrtEnv.CreateInstanceWithOptions(ref options);
    });

    /// <summary>ORT's log lines on this thread while it appends the CUDA provider (they hold the reason a provider does not load).</summary>
    [ThreadStatic]
    private static List<string>? _captured;

    /// <summary>ORT's log sink: lines are kept while the CUDA provider is appended on this thread, else written to stderr as ORT would.</summary>
    private static void OrtLog(IntPtr param, OrtLoggingLevel severity, string category, string logId, string codeLocation, string message)
    {
        if (_captured is { } captured)
        {
            captured.Add(message);
        }
        else
        {
            Console.Error.WriteLine($"onnxruntime {severity}: {message}");
        }
    }

    /// <summary>The ONNX Runtime version, for example "1.31.1".</summary>
    public static string Version => Env.Value.GetVersionString();

    /// <summary>The execution providers this build of ONNX Runtime has (CPUExecutionProvider, CUDAExecutionProvider, …).</summary>
    public static IReadOnlyList<string> AvailableProviders => Env.Value.GetAvailableProviders();

    /// <summary>
    /// Loads a model from bytes. With <see cref="SessionSettings.PreferCuda"/> the CUDA provider is tried first;
    /// when this build has none, it does not load (CUDA or cuDNN libraries missing), or the session cannot start on
    /// it (no device), the session runs on CPU and <see cref="SessionSettings.Log"/> gets the reason, ORT's own.
    /// </summary>
    /// <exception cref="OnnxRuntimeException">ORT refused the model; the message is ORT's.</exception>
    public static InferenceSession Load(ReadOnlyMemory<byte> model, SessionSettings? settings = null)
    {
        settings ??= SessionSettings.Shared;
        _ = Env.Value;
        var bytes = model.ToArray();
        using (var options = Options(settings))
        {
            if (settings.PreferCuda && TryCuda(options, settings))
            {
                try
                {
                    return new InferenceSession(bytes, options);
                }
                catch (OnnxRuntimeException ex)
                {
                    settings.Log?.Invoke($"ONNX Runtime could not start a session on the CUDA execution provider (device {settings.CudaDeviceId}), scoring on CPU: {ex.Message}");
                }
            }
            else
            {
                return new InferenceSession(bytes, options);
            }
        }

        using var cpu = Options(settings);
        return new InferenceSession(bytes, cpu);
    }

    private static SessionOptions Options(SessionSettings settings)
    {
        var options = new SessionOptions
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

        return options;
    }

    /// <summary>Appends the CUDA provider when this ORT build has it and it loads (true); otherwise logs why scoring stays on CPU (false).</summary>
    private static bool TryCuda(SessionOptions options, SessionSettings settings)
    {
        if (!AvailableProviders.Contains("CUDAExecutionProvider"))
        {
            settings.Log?.Invoke($"ONNX Runtime {Version} has no CUDA execution provider in this build (providers: {string.Join(", ", AvailableProviders)}); scoring on CPU.");
            return false;
        }

        _captured = [];
        try
        {
            options.AppendExecutionProvider_CUDA(settings.CudaDeviceId);
            return true;
        }
        catch (OnnxRuntimeException ex)
        {
            // ORT's exception says only that the library did not load; its log line says which dependency is missing.
            var detail = _captured.Count > 0 ? $" ({string.Join(" ", _captured.Select(l => l.Trim()))})" : string.Empty;
            settings.Log?.Invoke($"ONNX Runtime CUDA execution provider unavailable, scoring on CPU: {ex.Message}{detail}");
            return false;
        }
        finally
        {
            _captured = null;
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
