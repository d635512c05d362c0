using System.Runtime.InteropServices;
using FinServerless.Native;

namespace FinServerless.Training.Trainers;

/// <summary>P/Invoke declarations of our libtorch shim (training-container/native/finserverless_torch.cpp).</summary>
internal static unsafe partial class TorchShim
{
    private const string Library = "finserverless_torch";
    private const int ErrorCapacity = 2048;

    static TorchShim() => NativeLibraries.UseFor(typeof(TorchShim).Assembly, Library, NativeEngine.TorchShim);

    public static void EnsureLoaded() => NativeLibraries.Load(NativeEngine.TorchShim);

    [LibraryImport(Library)]
    public static partial nint fs_torch_version();

    [LibraryImport(Library)]
    public static partial int fs_torch_cuda_available();

    [LibraryImport(Library)]
    public static partial int fs_mlp_create(long inputs, long* hidden, int layers, float dropout, float learningRate, float weightDecay, ulong seed, int useCuda, int threads, out nint handle, byte* error, int capacity);

    [LibraryImport(Library)]
    public static partial int fs_ae_create(long inputs, long* hidden, int layers, float learningRate, float weightDecay, ulong seed, int useCuda, int threads, out nint handle, byte* error, int capacity);

    [LibraryImport(Library)]
    public static partial int fs_mlp_set_data(nint handle, float* x, float* y, long rows, byte* error, int capacity);

    [LibraryImport(Library)]
    public static partial int fs_mlp_train_epoch(nint handle, long batch, float positiveWeight, out double meanLoss, byte* error, int capacity);

    [LibraryImport(Library)]
    public static partial int fs_mlp_predict(nint handle, float* x, long rows, float* probabilities, byte* error, int capacity);

    [LibraryImport(Library)]
    public static partial long fs_mlp_parameter_count(nint handle);

    [LibraryImport(Library)]
    public static partial int fs_mlp_get_parameters(nint handle, float* buffer, long count, byte* error, int capacity);

    [LibraryImport(Library)]
    public static partial int fs_mlp_set_parameters(nint handle, float* buffer, long count, byte* error, int capacity);

    [LibraryImport(Library)]
    public static partial void fs_mlp_free(nint handle);

    /// <summary>libtorch's version, for example "1.13.1".</summary>
    public static string Version
    {
        get
        {
            EnsureLoaded();
            return Marshal.PtrToStringUTF8(fs_torch_version()) ?? "unknown";
        }
    }

    /// <summary>Whether libtorch sees a CUDA device.</summary>
    public static bool CudaAvailable
    {
        get
        {
            EnsureLoaded();
            return fs_torch_cuda_available() == 1;
        }
    }

    /// <summary>Runs a shim call that reports errors into a buffer; throws with libtorch's message on failure.</summary>
    public static void Call(string what, Func<nint, int, int> call)
    {
        var error = stackalloc byte[ErrorCapacity];
        error[0] = 0;
        if (call((nint)error, ErrorCapacity) != 0)
        {
            throw new InvalidOperationException($"libtorch {what} failed: {Marshal.PtrToStringUTF8((nint)error)}");
        }
    }
}
