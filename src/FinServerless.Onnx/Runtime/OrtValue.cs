using System.Buffers;
using System.Runtime.CompilerServices;

namespace FinServerless.Onnx.Runtime;

/// <summary>
/// An ONNX value. Input tensors wrap caller memory without copying (pinned until disposed); output tensors
/// are read in place from ORT's buffer.
/// </summary>
public sealed unsafe class OrtValue : IDisposable
{
    private static readonly Lazy<nint> CpuMemory = new(() => OrtApi.Instance.CreateCpuMemoryInfo());

    private readonly OrtSafeHandle _handle;
    private MemoryHandle _pin;
    private (TensorElementType ElementType, long[] Shape)? _info;

    private OrtValue(nint handle, MemoryHandle pin)
    {
        _handle = new OrtSafeHandle(handle, OrtSafeHandle.Slots.Value);
        _pin = pin;
    }

    internal nint Handle => _handle.DangerousGetHandle();

    /// <summary>Wraps <paramref name="data"/> as a tensor of the given shape, without copying.</summary>
    public static OrtValue CreateTensor<T>(Memory<T> data, ReadOnlySpan<long> shape)
        where T : unmanaged
    {
        long elements = 1;
        foreach (var d in shape)
        {
            if (d < 0)
            {
                throw new ArgumentException($"Tensor shape [{string.Join(",", shape.ToArray())}] has a negative dimension.", nameof(shape));
            }

            elements *= d;
        }

        if (elements != data.Length)
        {
            throw new ArgumentException(
                $"Tensor shape [{string.Join(",", shape.ToArray())}] needs {elements} elements but the buffer holds {data.Length}.", nameof(data));
        }

        var pin = data.Pin();
        try
        {
            var handle = OrtApi.Instance.CreateTensorWithData(CpuMemory.Value, pin.Pointer, (nuint)(data.Length * sizeof(T)), shape, TensorElementTypes.Of<T>());
            return new OrtValue(handle, pin);
        }
        catch
        {
            pin.Dispose();
            throw;
        }
    }

    internal static OrtValue FromOutput(nint handle) => new(handle, default);

    /// <summary>What kind of value this is.</summary>
    public OnnxValueKind Kind => OrtApi.Instance.GetValueType(Handle);

    /// <summary>Element type of a tensor.</summary>
    public TensorElementType ElementType => Info.ElementType;

    /// <summary>Shape of a tensor.</summary>
    public IReadOnlyList<long> Shape => Info.Shape;

    private (TensorElementType ElementType, long[] Shape) Info => _info ??= OrtApi.Instance.GetTensorTypeAndShape(Handle);

    /// <summary>The tensor's data, read in place (valid until this value is disposed).</summary>
    public ReadOnlySpan<T> GetTensorData<T>()
        where T : unmanaged
    {
        var expected = TensorElementTypes.Of<T>();
        if (ElementType != expected)
        {
            throw new InvalidOperationException($"The tensor holds {ElementType}, not {expected}.");
        }

        long count = 1;
        foreach (var d in Shape)
        {
            count *= d;
        }

        return new ReadOnlySpan<T>(OrtApi.Instance.GetTensorMutableData(Handle), checked((int)count));
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _handle.Dispose();
        _pin.Dispose();
        _pin = default;
    }
}
