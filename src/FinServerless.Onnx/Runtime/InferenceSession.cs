using System.Runtime.InteropServices;

namespace FinServerless.Onnx.Runtime;

/// <summary>
/// A loaded ONNX model. <see cref="Run"/> may be called from many threads at once (ORT allows concurrent
/// runs on one session). Dispose releases the native session.
/// </summary>
public sealed unsafe class InferenceSession : IDisposable
{
    private readonly OrtSafeHandle _session;
    private readonly nint[] _inputNames;
    private readonly nint[] _outputNames;
    private int _disposed;

    private InferenceSession(nint session, string executionProvider)
    {
        _session = new OrtSafeHandle(session, OrtSafeHandle.Slots.Session);
        ExecutionProvider = executionProvider;
        var api = OrtApi.Instance;
        Inputs = Describe(api, session, api.SessionGetInputCount(session), output: false);
        Outputs = Describe(api, session, api.SessionGetOutputCount(session), output: true);
        _inputNames = Inputs.Select(i => Marshal.StringToCoTaskMemUTF8(i.Name)).ToArray();
        _outputNames = Outputs.Select(o => Marshal.StringToCoTaskMemUTF8(o.Name)).ToArray();
    }

    /// <summary>The model's inputs, in order.</summary>
    public IReadOnlyList<NodeInfo> Inputs { get; }

    /// <summary>The model's outputs, in order.</summary>
    public IReadOnlyList<NodeInfo> Outputs { get; }

    /// <summary>"CUDA" when the CUDA provider was appended, else "CPU".</summary>
    public string ExecutionProvider { get; }

    /// <summary>Loads a model file.</summary>
    public static InferenceSession Load(string modelPath, SessionOptions? options = null)
    {
        if (!File.Exists(modelPath))
        {
            throw new FileNotFoundException($"ONNX model file '{modelPath}' does not exist.", modelPath);
        }

        var env = OrtEnvironment.Instance;
        return Create(options, (api, so) => api.CreateSession(env.Handle, Path.GetFullPath(modelPath), so));
    }

    /// <summary>Loads a model from bytes (for example downloaded from blob storage).</summary>
    public static InferenceSession Load(ReadOnlyMemory<byte> model, SessionOptions? options = null)
    {
        var env = OrtEnvironment.Instance;
        return Create(options, (api, so) => api.CreateSessionFromArray(env.Handle, model.Span, so));
    }

    /// <summary>
    /// Runs the model. <paramref name="inputs"/> follow <see cref="Inputs"/> order; returns the requested
    /// outputs (all by default), which the caller disposes.
    /// </summary>
    public OrtValue[] Run(IReadOnlyList<OrtValue> inputs, IReadOnlyList<int>? outputIndices = null)
    {
        ObjectDisposedException.ThrowIf(_disposed != 0, this);
        if (inputs.Count != Inputs.Count)
        {
            throw new ArgumentException(
                $"The model takes {Inputs.Count} input(s) ({string.Join(", ", Inputs)}) but {inputs.Count} were given.", nameof(inputs));
        }

        var outIdx = outputIndices ?? Enumerable.Range(0, Outputs.Count).ToArray();
        var inputHandles = stackalloc nint[inputs.Count];
        for (var i = 0; i < inputs.Count; i++)
        {
            inputHandles[i] = inputs[i].Handle;
        }

        var outputNames = stackalloc nint[outIdx.Count];
        var outputHandles = stackalloc nint[outIdx.Count];
        for (var i = 0; i < outIdx.Count; i++)
        {
            outputNames[i] = _outputNames[outIdx[i]];
            outputHandles[i] = 0;
        }

        var added = false;
        _session.DangerousAddRef(ref added);
        try
        {
            fixed (nint* inputNames = _inputNames)
            {
                OrtApi.Instance.Run(_session.DangerousGetHandle(), inputNames, inputHandles, (nuint)inputs.Count, outputNames, (nuint)outIdx.Count, outputHandles);
            }
        }
        finally
        {
            if (added)
            {
                _session.DangerousRelease();
            }
        }

        var results = new OrtValue[outIdx.Count];
        for (var i = 0; i < results.Length; i++)
        {
            results[i] = OrtValue.FromOutput(outputHandles[i]);
        }

        return results;
    }

    /// <summary>Index of the output named <paramref name="name"/>, or a clear error listing the outputs.</summary>
    public int OutputIndex(string name)
    {
        for (var i = 0; i < Outputs.Count; i++)
        {
            if (Outputs[i].Name == name)
            {
                return i;
            }
        }

        throw new ArgumentException($"The model has no output '{name}'; its outputs are {string.Join(", ", Outputs)}.", nameof(name));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        _session.Dispose();
        foreach (var p in _inputNames.Concat(_outputNames))
        {
            Marshal.FreeCoTaskMem(p);
        }
    }

    private static InferenceSession Create(SessionOptions? options, Func<OrtApi, nint, nint> create)
    {
        options ??= new SessionOptions();
        var api = OrtApi.Instance;
        using var sessionOptions = new OrtSafeHandle(api.CreateSessionOptions(), OrtSafeHandle.Slots.SessionOptions);
        var so = sessionOptions.DangerousGetHandle();
        api.SetSessionGraphOptimizationLevel(so, options.GraphOptimizationLevel);
        api.SetSessionExecutionMode(so, options.ParallelExecution ? 1 : 0);
        if (options.UseGlobalThreadPool)
        {
            api.DisablePerSessionThreads(so);
        }
        else
        {
            api.SetIntraOpNumThreads(so, options.IntraOpThreads);
            api.SetInterOpNumThreads(so, options.InterOpThreads);
        }

        foreach (var (key, value) in options.ConfigEntries ?? new Dictionary<string, string>())
        {
            api.AddSessionConfigEntry(so, key, value);
        }

        var provider = "CPU";
        if (options.PreferCuda)
        {
            var reason = api.TryAppendCuda(so, options.CudaDeviceId);
            if (reason is null)
            {
                provider = "CUDA";
            }
            else
            {
                options.Log?.Invoke($"ONNX Runtime CUDA execution provider unavailable, scoring on CPU: {reason}");
            }
        }

        return new InferenceSession(create(api, so), provider);
    }

    private static IReadOnlyList<NodeInfo> Describe(OrtApi api, nint session, nuint count, bool output)
    {
        var list = new List<NodeInfo>((int)count);
        for (nuint i = 0; i < count; i++)
        {
            var name = api.SessionGetName(session, i, output);
            var (kind, element, shape) = api.SessionGetTypeInfo(session, i, output);
            list.Add(new NodeInfo(name, kind, element, shape));
        }

        return list;
    }
}
