using System.Runtime.InteropServices;

namespace FinServerless.Onnx.Runtime;

/// <summary>Owns one native ORT object and releases it through its Release* slot exactly once.</summary>
internal sealed class OrtSafeHandle : SafeHandle
{
    private readonly int _releaseSlot;

    public OrtSafeHandle(nint handle, int releaseSlot)
        : base(0, ownsHandle: true)
    {
        _releaseSlot = releaseSlot;
        SetHandle(handle);
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle()
    {
        OrtApi.Instance.Release(_releaseSlot, handle);
        return true;
    }

    /// <summary>Release slots in the API table.</summary>
    internal static class Slots
    {
        public const int MemoryInfo = 94;
        public const int Session = 95;
        public const int Value = 96;
        public const int SessionOptions = 100;
    }
}
