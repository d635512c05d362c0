using System.Runtime.InteropServices;

namespace FinServerless.XGBoost;

/// <summary>XGBoost's data matrix, built from a dense row-major float buffer (NaN = missing).</summary>
public sealed unsafe class DMatrix : IDisposable
{
    private readonly Handle _handle;

    /// <summary>Copies <paramref name="data"/> (rows × columns, row-major) into a new DMatrix.</summary>
    public DMatrix(ReadOnlySpan<float> data, int rows, int columns, ReadOnlySpan<float> labels = default)
    {
        if (rows <= 0 || columns <= 0)
        {
            throw new ArgumentException($"A DMatrix needs at least one row and one column (got {rows} × {columns}).");
        }

        if ((long)rows * columns != data.Length)
        {
            throw new ArgumentException($"{rows} rows × {columns} columns need {(long)rows * columns} values, but {data.Length} were given.", nameof(data));
        }

        XGBoostNative.EnsureLoaded();
        nint handle;
        fixed (float* p = data)
        {
            XGBoostNative.Check(XGBoostNative.XGDMatrixCreateFromMat(p, (ulong)rows, (ulong)columns, float.NaN, out handle), "XGDMatrixCreateFromMat");
        }

        _handle = new Handle(handle);
        Rows = rows;
        Columns = columns;
        if (!labels.IsEmpty)
        {
            SetFloatInfo("label", labels);
        }
    }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>Number of feature columns.</summary>
    public int Columns { get; }

    internal nint NativeHandle => _handle.DangerousGetHandle();

    /// <summary>Sets per-row information such as "label" or "weight".</summary>
    public void SetFloatInfo(string field, ReadOnlySpan<float> values)
    {
        if (values.Length != Rows)
        {
            throw new ArgumentException($"'{field}' has {values.Length} values for {Rows} rows.", nameof(values));
        }

        fixed (float* p = values)
        {
            XGBoostNative.Check(XGBoostNative.XGDMatrixSetFloatInfo(NativeHandle, field, p, (ulong)values.Length), $"XGDMatrixSetFloatInfo({field})");
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _handle.Dispose();

    private sealed class Handle : SafeHandle
    {
        public Handle(nint h)
            : base(0, true) => SetHandle(h);

        public override bool IsInvalid => handle == 0;

        protected override bool ReleaseHandle() => XGBoostNative.XGDMatrixFree(handle) == 0;
    }
}
