namespace FinServerless.Onnx.Runtime;

/// <summary>ONNX tensor element types (ONNXTensorElementDataType).</summary>
public enum TensorElementType
{
    /// <summary>Unknown.</summary>
    Undefined = 0,
    /// <summary>float32.</summary>
    Float = 1,
    /// <summary>uint8.</summary>
    UInt8 = 2,
    /// <summary>int8.</summary>
    Int8 = 3,
    /// <summary>uint16.</summary>
    UInt16 = 4,
    /// <summary>int16.</summary>
    Int16 = 5,
    /// <summary>int32.</summary>
    Int32 = 6,
    /// <summary>int64.</summary>
    Int64 = 7,
    /// <summary>string.</summary>
    String = 8,
    /// <summary>bool.</summary>
    Bool = 9,
    /// <summary>float16.</summary>
    Float16 = 10,
    /// <summary>float64.</summary>
    Double = 11,
}

/// <summary>Kinds of ONNX values (ONNXType).</summary>
public enum OnnxValueKind
{
    /// <summary>Unknown.</summary>
    Unknown = 0,
    /// <summary>A tensor.</summary>
    Tensor = 1,
    /// <summary>A sequence (for example ZipMap output).</summary>
    Sequence = 2,
    /// <summary>A map.</summary>
    Map = 3,
    /// <summary>Opaque.</summary>
    Opaque = 4,
    /// <summary>Sparse tensor.</summary>
    SparseTensor = 5,
    /// <summary>Optional.</summary>
    Optional = 6,
}

/// <summary>A model input or output: name, kind, element type and shape (-1 for a symbolic dimension).</summary>
public sealed record NodeInfo(string Name, OnnxValueKind Kind, TensorElementType ElementType, IReadOnlyList<long> Shape)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {ElementType}[{string.Join(",", Shape)}]";
}

internal static class TensorElementTypes
{
    public static TensorElementType Of<T>() where T : unmanaged =>
        typeof(T) == typeof(float) ? TensorElementType.Float
        : typeof(double) == typeof(T) ? TensorElementType.Double
        : typeof(long) == typeof(T) ? TensorElementType.Int64
        : typeof(int) == typeof(T) ? TensorElementType.Int32
        : typeof(byte) == typeof(T) ? TensorElementType.UInt8
        : typeof(bool) == typeof(T) ? TensorElementType.Bool
        : throw new NotSupportedException($"Tensors of {typeof(T).Name} are not supported; use float, double, long, int, byte or bool.");
}
