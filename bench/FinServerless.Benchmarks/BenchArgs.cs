using System.Globalization;

namespace FinServerless.Benchmarks;

/// <summary>Reads "--name value" options of a benchmark's command line.</summary>
internal static class BenchArgs
{
    public static int Int(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
    }
}
