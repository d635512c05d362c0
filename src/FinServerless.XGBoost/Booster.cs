using System.Globalization;
using System.Runtime.InteropServices;

namespace FinServerless.XGBoost;

/// <summary>An XGBoost model: set parameters, train round by round, evaluate, predict, save and load.</summary>
public sealed unsafe class Booster : IDisposable
{
    private readonly Handle _handle;

    /// <summary>Creates a booster whose prediction cache covers <paramref name="cached"/> matrices.</summary>
    public Booster(params DMatrix[] cached)
    {
        XGBoostNative.EnsureLoaded();
        var handles = stackalloc nint[Math.Max(cached.Length, 1)];
        for (var i = 0; i < cached.Length; i++)
        {
            handles[i] = cached[i].NativeHandle;
        }

        XGBoostNative.Check(XGBoostNative.XGBoosterCreate(handles, (ulong)cached.Length, out var handle), "XGBoosterCreate");
        _handle = new Handle(handle);
    }

    /// <summary>The library version, for example "1.7.4".</summary>
    public static string LibraryVersion
    {
        get
        {
            XGBoostNative.EnsureLoaded();
            XGBoostNative.XGBoostVersion(out var major, out var minor, out var patch);
            return $"{major}.{minor}.{patch}";
        }
    }

    private Booster(nint handle) => _handle = new Handle(handle);

    private nint NativeHandle => _handle.DangerousGetHandle();

    /// <summary>Loads a model saved with <see cref="SaveJson"/> (or XGBoost's UBJSON).</summary>
    public static Booster Load(ReadOnlySpan<byte> model)
    {
        var booster = new Booster();
        fixed (byte* p = model)
        {
            XGBoostNative.Check(XGBoostNative.XGBoosterLoadModelFromBuffer(booster.NativeHandle, p, (ulong)model.Length), "XGBoosterLoadModelFromBuffer");
        }

        return booster;
    }

    /// <summary>A new booster holding rounds [<paramref name="begin"/>, <paramref name="end"/>) of this one (for example the rounds up to the best one).</summary>
    public Booster Slice(int begin, int end)
    {
        XGBoostNative.Check(XGBoostNative.XGBoosterSlice(NativeHandle, begin, end, 1, out var sliced), "XGBoosterSlice");
        return new Booster(sliced);
    }

    /// <summary>Sets one parameter (for example "max_depth" = "6").</summary>
    public Booster SetParameter(string name, string value)
    {
        XGBoostNative.Check(XGBoostNative.XGBoosterSetParam(NativeHandle, name, value), $"XGBoosterSetParam({name})");
        return this;
    }

    /// <summary>Sets one numeric parameter.</summary>
    public Booster SetParameter(string name, double value) => SetParameter(name, value.ToString(CultureInfo.InvariantCulture));

    /// <summary>Runs one boosting round on <paramref name="train"/>.</summary>
    public void UpdateOneIteration(int iteration, DMatrix train) =>
        XGBoostNative.Check(XGBoostNative.XGBoosterUpdateOneIter(NativeHandle, iteration, train.NativeHandle), "XGBoosterUpdateOneIter");

    /// <summary>Evaluates the configured metrics; returns XGBoost's line, for example "[3]\tvalid-auc:0.81".</summary>
    public string EvaluateOneIteration(int iteration, params (DMatrix Matrix, string Name)[] sets)
    {
        var handles = stackalloc nint[sets.Length];
        var names = stackalloc nint[sets.Length];
        try
        {
            for (var i = 0; i < sets.Length; i++)
            {
                handles[i] = sets[i].Matrix.NativeHandle;
                names[i] = Marshal.StringToCoTaskMemUTF8(sets[i].Name);
            }

            XGBoostNative.Check(XGBoostNative.XGBoosterEvalOneIter(NativeHandle, iteration, handles, names, (ulong)sets.Length, out var result), "XGBoosterEvalOneIter");
            return Marshal.PtrToStringUTF8(result) ?? string.Empty;
        }
        finally
        {
            for (var i = 0; i < sets.Length; i++)
            {
                Marshal.FreeCoTaskMem(names[i]);
            }
        }
    }

    /// <summary>Predicts (probabilities for binary:logistic); the result is copied out of XGBoost's buffer.</summary>
    public float[] Predict(DMatrix data)
    {
        XGBoostNative.Check(XGBoostNative.XGBoosterPredict(NativeHandle, data.NativeHandle, 0, 0, 0, out var length, out var result), "XGBoosterPredict");
        return new ReadOnlySpan<float>(result, checked((int)length)).ToArray();
    }

    /// <summary>The raw margin (log-odds for binary:logistic) of each row, before the objective's transform.</summary>
    public float[] PredictMargin(DMatrix data) => Predict(data, optionMask: 1);

    /// <summary>
    /// XGBoost's exact TreeSHAP (<c>pred_contribs</c>): rows × (features + 1) values, each row's contributions to the
    /// margin and, last, the bias.
    /// </summary>
    public float[] PredictContributions(DMatrix data) => Predict(data, optionMask: 4);

    private float[] Predict(DMatrix data, int optionMask)
    {
        XGBoostNative.Check(XGBoostNative.XGBoosterPredict(NativeHandle, data.NativeHandle, optionMask, 0, 0, out var length, out var result), "XGBoosterPredict");
        return new ReadOnlySpan<float>(result, checked((int)length)).ToArray();
    }

    /// <summary>The model in XGBoost's JSON format.</summary>
    public byte[] SaveJson()
    {
        XGBoostNative.Check(XGBoostNative.XGBoosterSaveModelToBuffer(NativeHandle, "{\"format\":\"json\"}", out var length, out var data), "XGBoosterSaveModelToBuffer");
        return new ReadOnlySpan<byte>(data, checked((int)length)).ToArray();
    }

    /// <summary>The booster's full configuration as JSON (includes base_score).</summary>
    public string SaveConfig()
    {
        XGBoostNative.Check(XGBoostNative.XGBoosterSaveJsonConfig(NativeHandle, out _, out var config), "XGBoosterSaveJsonConfig");
        return Marshal.PtrToStringUTF8(config) ?? string.Empty;
    }

    /// <inheritdoc/>
    public void Dispose() => _handle.Dispose();

    private sealed class Handle : SafeHandle
    {
        public Handle(nint h)
            : base(0, true) => SetHandle(h);

        public override bool IsInvalid => handle == 0;

        protected override bool ReleaseHandle() => XGBoostNative.XGBoosterFree(handle) == 0;
    }
}
