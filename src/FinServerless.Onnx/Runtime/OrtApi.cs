using System.Runtime.InteropServices;
using FinServerless.Native;

namespace FinServerless.Onnx.Runtime;

/// <summary>
/// The ONNX Runtime C API function table (<c>OrtGetApiBase()->GetApi(30)</c>). Slot numbers come from the C
/// header's struct order (../shared/reference/onnxruntime-c-api-slots.txt); the table only grows at the end.
/// </summary>
internal sealed unsafe class OrtApi
{
    /// <summary>The API version we bind: ONNX Runtime 1.30 or later.</summary>
    public const uint ApiVersion = 30;

    private static readonly Lazy<OrtApi> Shared = new(() => new OrtApi(NativeLibraries.Load(NativeEngine.OnnxRuntime)));

    private readonly nint* _table;

    private OrtApi(nint library)
    {
        var getApiBase = (delegate* unmanaged<nint>)NativeLibrary.GetExport(library, "OrtGetApiBase");
        var apiBase = (nint*)getApiBase();
        var getVersion = (delegate* unmanaged<byte*>)apiBase[1];
        Version = Marshal.PtrToStringUTF8((nint)getVersion()) ?? "unknown";
        var getApi = (delegate* unmanaged<uint, nint*>)apiBase[0];
        _table = getApi(ApiVersion);
        if (_table is null)
        {
            throw new NativeLibraryNotFoundException(
                $"The ONNX Runtime library loaded is version {Version}, which does not offer API version {ApiVersion}. " +
                $"FinServerless needs ONNX Runtime 1.30 or later: run ./eng/setup.sh or point {NativeEngine.OnnxRuntime.PathSetting} at a newer build.");
        }
    }

    public static OrtApi Instance => Shared.Value;

    /// <summary>The native library's version string, for example "1.30.0".</summary>
    public string Version { get; }

    // Errors
    public int GetErrorCode(nint status) => ((delegate* unmanaged<nint, int>)_table[1])(status);

    public string GetErrorMessage(nint status) => Marshal.PtrToStringUTF8(((delegate* unmanaged<nint, nint>)_table[2])(status)) ?? string.Empty;

    public void ReleaseStatus(nint status) => ((delegate* unmanaged<nint, void>)_table[93])(status);

    /// <summary>Throws an <see cref="OnnxRuntimeException"/> carrying ORT's message when <paramref name="status"/> is not NULL.</summary>
    public void Check(nint status, string operation)
    {
        if (status == 0)
        {
            return;
        }

        var code = GetErrorCode(status);
        var message = GetErrorMessage(status);
        ReleaseStatus(status);
        throw new OnnxRuntimeException(code, operation, message);
    }

    // Environment and threading
    public nint CreateEnvWithGlobalThreadPools(int logLevel, string logId, nint threadingOptions)
    {
        nint env;
        var id = Marshal.StringToCoTaskMemUTF8(logId);
        try
        {
            Check(((delegate* unmanaged<int, nint, nint, nint*, nint>)_table[119])(logLevel, id, threadingOptions, &env), "CreateEnvWithGlobalThreadPools");
        }
        finally
        {
            Marshal.FreeCoTaskMem(id);
        }

        return env;
    }

    public nint CreateThreadingOptions()
    {
        nint options;
        Check(((delegate* unmanaged<nint*, nint>)_table[121])(&options), "CreateThreadingOptions");
        return options;
    }

    public void SetGlobalIntraOpNumThreads(nint options, int threads) =>
        Check(((delegate* unmanaged<nint, int, nint>)_table[147])(options, threads), "SetGlobalIntraOpNumThreads");

    public void SetGlobalInterOpNumThreads(nint options, int threads) =>
        Check(((delegate* unmanaged<nint, int, nint>)_table[148])(options, threads), "SetGlobalInterOpNumThreads");

    // Session options
    public nint CreateSessionOptions()
    {
        nint options;
        Check(((delegate* unmanaged<nint*, nint>)_table[10])(&options), "CreateSessionOptions");
        return options;
    }

    public void SetSessionExecutionMode(nint options, int mode) =>
        Check(((delegate* unmanaged<nint, int, nint>)_table[13])(options, mode), "SetSessionExecutionMode");

    public void SetSessionGraphOptimizationLevel(nint options, int level) =>
        Check(((delegate* unmanaged<nint, int, nint>)_table[23])(options, level), "SetSessionGraphOptimizationLevel");

    public void SetIntraOpNumThreads(nint options, int threads) =>
        Check(((delegate* unmanaged<nint, int, nint>)_table[24])(options, threads), "SetIntraOpNumThreads");

    public void SetInterOpNumThreads(nint options, int threads) =>
        Check(((delegate* unmanaged<nint, int, nint>)_table[25])(options, threads), "SetInterOpNumThreads");

    public void DisablePerSessionThreads(nint options) =>
        Check(((delegate* unmanaged<nint, nint>)_table[120])(options), "DisablePerSessionThreads");

    public void AddSessionConfigEntry(nint options, string key, string value)
    {
        var k = Marshal.StringToCoTaskMemUTF8(key);
        var v = Marshal.StringToCoTaskMemUTF8(value);
        try
        {
            Check(((delegate* unmanaged<nint, nint, nint, nint>)_table[130])(options, k, v), $"AddSessionConfigEntry({key})");
        }
        finally
        {
            Marshal.FreeCoTaskMem(k);
            Marshal.FreeCoTaskMem(v);
        }
    }

    /// <summary>Tries to append the CUDA provider; returns ORT's reason when the build or machine cannot.</summary>
    public string? TryAppendCuda(nint options, int deviceId)
    {
        nint cudaOptions;
        var status = ((delegate* unmanaged<nint*, nint>)_table[205])(&cudaOptions);
        if (status != 0)
        {
            var reason = GetErrorMessage(status);
            ReleaseStatus(status);
            return reason;
        }

        try
        {
            var key = Marshal.StringToCoTaskMemUTF8("device_id");
            var value = Marshal.StringToCoTaskMemUTF8(deviceId.ToString(System.Globalization.CultureInfo.InvariantCulture));
            try
            {
                var keys = stackalloc nint[] { key };
                var values = stackalloc nint[] { value };
                status = ((delegate* unmanaged<nint, nint*, nint*, nuint, nint>)_table[206])(cudaOptions, keys, values, 1);
                if (status == 0)
                {
                    status = ((delegate* unmanaged<nint, nint, nint>)_table[204])(options, cudaOptions);
                }
            }
            finally
            {
                Marshal.FreeCoTaskMem(key);
                Marshal.FreeCoTaskMem(value);
            }

            if (status != 0)
            {
                var reason = GetErrorMessage(status);
                ReleaseStatus(status);
                return reason;
            }

            return null;
        }
        finally
        {
            ((delegate* unmanaged<nint, void>)_table[208])(cudaOptions);
        }
    }

    // Sessions
    public nint CreateSession(nint env, string modelPath, nint options)
    {
        nint session;
        var path = Marshal.StringToCoTaskMemUTF8(modelPath);
        try
        {
            Check(((delegate* unmanaged<nint, nint, nint, nint*, nint>)_table[7])(env, path, options, &session), $"CreateSession({modelPath})");
        }
        finally
        {
            Marshal.FreeCoTaskMem(path);
        }

        return session;
    }

    public nint CreateSessionFromArray(nint env, ReadOnlySpan<byte> model, nint options)
    {
        nint session;
        fixed (byte* data = model)
        {
            Check(((delegate* unmanaged<nint, byte*, nuint, nint, nint*, nint>)_table[8])(env, data, (nuint)model.Length, options, &session), "CreateSessionFromArray");
        }

        return session;
    }

    public nuint SessionGetInputCount(nint session)
    {
        nuint count;
        Check(((delegate* unmanaged<nint, nuint*, nint>)_table[30])(session, &count), "SessionGetInputCount");
        return count;
    }

    public nuint SessionGetOutputCount(nint session)
    {
        nuint count;
        Check(((delegate* unmanaged<nint, nuint*, nint>)_table[31])(session, &count), "SessionGetOutputCount");
        return count;
    }

    public string SessionGetName(nint session, nuint index, bool output)
    {
        nint allocator;
        Check(((delegate* unmanaged<nint*, nint>)_table[78])(&allocator), "GetAllocatorWithDefaultOptions");
        nint name;
        Check(((delegate* unmanaged<nint, nuint, nint, nint*, nint>)_table[output ? 37 : 36])(session, index, allocator, &name), output ? "SessionGetOutputName" : "SessionGetInputName");
        try
        {
            return Marshal.PtrToStringUTF8(name) ?? string.Empty;
        }
        finally
        {
            Check(((delegate* unmanaged<nint, nint, nint>)_table[76])(allocator, name), "AllocatorFree");
        }
    }

    public (OnnxValueKind Kind, TensorElementType ElementType, long[] Shape) SessionGetTypeInfo(nint session, nuint index, bool output)
    {
        nint typeInfo;
        Check(((delegate* unmanaged<nint, nuint, nint*, nint>)_table[output ? 34 : 33])(session, index, &typeInfo), output ? "SessionGetOutputTypeInfo" : "SessionGetInputTypeInfo");
        try
        {
            int onnxType;
            Check(((delegate* unmanaged<nint, int*, nint>)_table[56])(typeInfo, &onnxType), "GetOnnxTypeFromTypeInfo");
            nint tensorInfo;
            Check(((delegate* unmanaged<nint, nint*, nint>)_table[55])(typeInfo, &tensorInfo), "CastTypeInfoToTensorInfo");
            if (tensorInfo == 0)
            {
                return ((OnnxValueKind)onnxType, TensorElementType.Undefined, []);
            }

            var (element, shape) = ReadTensorInfo(tensorInfo);
            return ((OnnxValueKind)onnxType, element, shape);
        }
        finally
        {
            Release(98, typeInfo);
        }
    }

    public void Run(nint session, nint* inputNames, nint* inputs, nuint inputCount, nint* outputNames, nuint outputCount, nint* outputs) =>
        Check(((delegate* unmanaged<nint, nint, nint*, nint*, nuint, nint*, nuint, nint*, nint>)_table[9])(session, 0, inputNames, inputs, inputCount, outputNames, outputCount, outputs), "Run");

    // Values
    public nint CreateCpuMemoryInfo()
    {
        nint info;
        Check(((delegate* unmanaged<int, int, nint*, nint>)_table[69])(1 /* OrtArenaAllocator */, 0 /* OrtMemTypeDefault */, &info), "CreateCpuMemoryInfo");
        return info;
    }

    public nint CreateTensorWithData(nint memoryInfo, void* data, nuint byteLength, ReadOnlySpan<long> shape, TensorElementType type)
    {
        nint value;
        fixed (long* dims = shape)
        {
            Check(((delegate* unmanaged<nint, void*, nuint, long*, nuint, int, nint*, nint>)_table[49])(memoryInfo, data, byteLength, dims, (nuint)shape.Length, (int)type, &value), "CreateTensorWithDataAsOrtValue");
        }

        return value;
    }

    public void* GetTensorMutableData(nint value)
    {
        void* data;
        Check(((delegate* unmanaged<nint, void**, nint>)_table[51])(value, &data), "GetTensorMutableData");
        return data;
    }

    public OnnxValueKind GetValueType(nint value)
    {
        int type;
        Check(((delegate* unmanaged<nint, int*, nint>)_table[67])(value, &type), "GetValueType");
        return (OnnxValueKind)type;
    }

    public (TensorElementType ElementType, long[] Shape) GetTensorTypeAndShape(nint value)
    {
        nint info;
        Check(((delegate* unmanaged<nint, nint*, nint>)_table[65])(value, &info), "GetTensorTypeAndShape");
        try
        {
            return ReadTensorInfo(info);
        }
        finally
        {
            Release(99, info);
        }
    }

    public string BuildInfo => Marshal.PtrToStringUTF8(((delegate* unmanaged<nint>)_table[254])()) ?? string.Empty;

    /// <summary>Calls one of the Release* slots (92–100) on a non-null pointer.</summary>
    public void Release(int slot, nint handle)
    {
        if (handle != 0)
        {
            ((delegate* unmanaged<nint, void>)_table[slot])(handle);
        }
    }

    private (TensorElementType, long[]) ReadTensorInfo(nint info)
    {
        int element;
        Check(((delegate* unmanaged<nint, int*, nint>)_table[60])(info, &element), "GetTensorElementType");
        nuint count;
        Check(((delegate* unmanaged<nint, nuint*, nint>)_table[61])(info, &count), "GetDimensionsCount");
        var shape = new long[(int)count];
        fixed (long* dims = shape)
        {
            Check(((delegate* unmanaged<nint, long*, nuint, nint>)_table[62])(info, dims, count), "GetDimensions");
        }

        return ((TensorElementType)element, shape);
    }
}
