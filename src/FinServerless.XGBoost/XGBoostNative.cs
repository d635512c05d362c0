using System.Runtime.InteropServices;
using FinServerless.Native;

namespace FinServerless.XGBoost;

/// <summary>P/Invoke declarations of the XGBoost C API (c_api.h). Every call returns 0 or -1 (see XGBGetLastError).</summary>
internal static unsafe partial class XGBoostNative
{
    private const string Library = "xgboost";

    static XGBoostNative() => NativeLibraries.UseFor(typeof(XGBoostNative).Assembly, Library, NativeEngine.XGBoost);

    /// <summary>Forces the library to load now, so a missing library fails with the locator's message.</summary>
    public static void EnsureLoaded() => NativeLibraries.Load(NativeEngine.XGBoost);

    [LibraryImport(Library)]
    public static partial nint XGBGetLastError();

    [LibraryImport(Library)]
    public static partial void XGBoostVersion(out int major, out int minor, out int patch);

    [LibraryImport(Library)]
    public static partial int XGDMatrixCreateFromMat(float* data, ulong rows, ulong columns, float missing, out nint handle);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int XGDMatrixSetFloatInfo(nint handle, string field, float* array, ulong length);

    [LibraryImport(Library)]
    public static partial int XGDMatrixNumRow(nint handle, out ulong rows);

    [LibraryImport(Library)]
    public static partial int XGDMatrixNumCol(nint handle, out ulong columns);

    [LibraryImport(Library)]
    public static partial int XGDMatrixFree(nint handle);

    [LibraryImport(Library)]
    public static partial int XGBoosterCreate(nint* matrices, ulong count, out nint handle);

    [LibraryImport(Library)]
    public static partial int XGBoosterFree(nint handle);

    [LibraryImport(Library)]
    public static partial int XGBoosterSlice(nint handle, int beginLayer, int endLayer, int step, out nint result);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int XGBoosterSetParam(nint handle, string name, string value);

    [LibraryImport(Library)]
    public static partial int XGBoosterUpdateOneIter(nint handle, int iteration, nint train);

    [LibraryImport(Library)]
    public static partial int XGBoosterEvalOneIter(nint handle, int iteration, nint* matrices, nint* names, ulong count, out nint result);

    [LibraryImport(Library)]
    public static partial int XGBoosterPredict(nint handle, nint matrix, int optionMask, uint treeLimit, int training, out ulong length, out float* result);

    [LibraryImport(Library, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int XGBoosterSaveModelToBuffer(nint handle, string config, out ulong length, out byte* data);

    [LibraryImport(Library)]
    public static partial int XGBoosterLoadModelFromBuffer(nint handle, byte* data, ulong length);

    [LibraryImport(Library)]
    public static partial int XGBoosterSaveJsonConfig(nint handle, out ulong length, out nint config);

    /// <summary>Throws <see cref="XGBoostException"/> with XGBoost's message when <paramref name="result"/> is not 0.</summary>
    public static void Check(int result, string call)
    {
        if (result != 0)
        {
            var message = Marshal.PtrToStringUTF8(XGBGetLastError()) ?? "unknown error";
            throw new XGBoostException(call, message);
        }
    }
}
