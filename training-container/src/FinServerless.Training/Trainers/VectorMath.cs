using System.Numerics;
using System.Runtime.InteropServices;

namespace FinServerless.Training.Trainers;

/// <summary>The few dense vector kernels the scorecard's Newton fit needs, on SIMD registers (Vector&lt;double&gt;).</summary>
internal static class VectorMath
{
    /// <summary>Σ a[i]·b[i].</summary>
    public static double Dot(ReadOnlySpan<double> a, ReadOnlySpan<double> b)
    {
        var va = MemoryMarshal.Cast<double, Vector<double>>(a);
        var vb = MemoryMarshal.Cast<double, Vector<double>>(b[..a.Length]);
        var acc = Vector<double>.Zero;
        for (var i = 0; i < va.Length; i++)
        {
            acc += va[i] * vb[i];
        }

        var sum = Vector.Sum(acc);
        for (var i = va.Length * Vector<double>.Count; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }

    /// <summary>Σ a[i].</summary>
    public static double Sum(ReadOnlySpan<double> a)
    {
        var va = MemoryMarshal.Cast<double, Vector<double>>(a);
        var acc = Vector<double>.Zero;
        for (var i = 0; i < va.Length; i++)
        {
            acc += va[i];
        }

        var sum = Vector.Sum(acc);
        for (var i = va.Length * Vector<double>.Count; i < a.Length; i++)
        {
            sum += a[i];
        }

        return sum;
    }

    /// <summary>y[i] += alpha·x[i].</summary>
    public static void AddScaled(double alpha, ReadOnlySpan<double> x, Span<double> y)
    {
        var vx = MemoryMarshal.Cast<double, Vector<double>>(x);
        var vy = MemoryMarshal.Cast<double, Vector<double>>(y[..x.Length]);
        var va = new Vector<double>(alpha);
        for (var i = 0; i < vx.Length; i++)
        {
            vy[i] += va * vx[i];
        }

        for (var i = vx.Length * Vector<double>.Count; i < x.Length; i++)
        {
            y[i] += alpha * x[i];
        }
    }

    /// <summary>result[i] = a[i]·b[i].</summary>
    public static void Multiply(ReadOnlySpan<double> a, ReadOnlySpan<double> b, Span<double> result)
    {
        var va = MemoryMarshal.Cast<double, Vector<double>>(a);
        var vb = MemoryMarshal.Cast<double, Vector<double>>(b[..a.Length]);
        var vr = MemoryMarshal.Cast<double, Vector<double>>(result[..a.Length]);
        for (var i = 0; i < va.Length; i++)
        {
            vr[i] = va[i] * vb[i];
        }

        for (var i = va.Length * Vector<double>.Count; i < a.Length; i++)
        {
            result[i] = a[i] * b[i];
        }
    }
}
