namespace FinServerless.Onnx.Runtime;

/// <summary>
/// The process-wide ONNX Runtime environment. It owns one global thread pool that every session shares
/// (no oversubscription when partitions are scored in parallel). Created once, on first use.
/// </summary>
public sealed class OrtEnvironment
{
    private static readonly object Gate = new();
    private static OrtEnvironment? _instance;

    private OrtEnvironment(int intraOpThreads, int interOpThreads)
    {
        var api = OrtApi.Instance;
        var threading = api.CreateThreadingOptions();
        try
        {
            api.SetGlobalIntraOpNumThreads(threading, intraOpThreads);
            api.SetGlobalInterOpNumThreads(threading, interOpThreads);
            Handle = api.CreateEnvWithGlobalThreadPools(3 /* ORT_LOGGING_LEVEL_ERROR */, "finserverless", threading);
        }
        finally
        {
            api.Release(122, threading);
        }

        IntraOpThreads = intraOpThreads;
        Version = api.Version;
    }

    /// <summary>The environment, created with defaults (threads = processor count) on first use.</summary>
    public static OrtEnvironment Instance
    {
        get
        {
            lock (Gate)
            {
                return _instance ??= new OrtEnvironment(Environment.ProcessorCount, 1);
            }
        }
    }

    /// <summary>The native library version, for example "1.30.0".</summary>
    public string Version { get; }

    /// <summary>Threads in the shared intra-op pool.</summary>
    public int IntraOpThreads { get; }

    /// <summary>ORT's build description (compiler, flags).</summary>
    public static string BuildInfo => OrtApi.Instance.BuildInfo;

    internal nint Handle { get; }

    /// <summary>
    /// Creates the environment with a global pool of <paramref name="intraOpThreads"/> threads. Must be called
    /// before the first session; the environment lives for the rest of the process, as ORT requires.
    /// </summary>
    public static OrtEnvironment Configure(int intraOpThreads, int interOpThreads = 1)
    {
        if (intraOpThreads < 1 || interOpThreads < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(intraOpThreads), "ONNX Runtime thread counts must be at least 1.");
        }

        lock (Gate)
        {
            if (_instance is not null)
            {
                if (_instance.IntraOpThreads == intraOpThreads)
                {
                    return _instance;
                }

                throw new InvalidOperationException(
                    $"The ONNX Runtime environment already exists with {_instance.IntraOpThreads} threads; configure it once, before the first session.");
            }

            return _instance = new OrtEnvironment(intraOpThreads, interOpThreads);
        }
    }
}
