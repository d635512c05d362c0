namespace FinServerless.Onnx.Runtime;

/// <summary>An error reported by ONNX Runtime, with its error code and its own message.</summary>
public sealed class OnnxRuntimeException(int errorCode, string operation, string ortMessage)
    : Exception($"ONNX Runtime {operation} failed ({(OrtErrorCode)errorCode}): {ortMessage}")
{
    /// <summary>ORT's error code (OrtErrorCode).</summary>
    public OrtErrorCode ErrorCode { get; } = (OrtErrorCode)errorCode;

    /// <summary>The C API call that failed.</summary>
    public string Operation { get; } = operation;

    /// <summary>ORT's message, unchanged.</summary>
    public string OrtMessage { get; } = ortMessage;
}

/// <summary>ORT's error codes (OrtErrorCode in the C header).</summary>
public enum OrtErrorCode
{
    /// <summary>No error.</summary>
    Ok = 0,
    /// <summary>Generic failure.</summary>
    Fail = 1,
    /// <summary>Bad argument (wrong shape, type, name).</summary>
    InvalidArgument = 2,
    /// <summary>File not found.</summary>
    NoSuchFile = 3,
    /// <summary>No model loaded.</summary>
    NoModel = 4,
    /// <summary>Engine error.</summary>
    EngineError = 5,
    /// <summary>Runtime exception.</summary>
    RuntimeException = 6,
    /// <summary>Invalid protobuf (corrupt model).</summary>
    InvalidProtobuf = 7,
    /// <summary>Model loaded.</summary>
    ModelLoaded = 8,
    /// <summary>Not implemented.</summary>
    NotImplemented = 9,
    /// <summary>Invalid graph.</summary>
    InvalidGraph = 10,
    /// <summary>Execution provider failure.</summary>
    EpFail = 11,
}
