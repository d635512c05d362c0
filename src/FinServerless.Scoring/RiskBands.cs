using System.Globalization;

namespace FinServerless.Scoring;

/// <summary>
/// The master scale: grades by calibrated probability of default, each the grade's name and its exclusive upper
/// bound, the last grade taking everything above. Configuration (setting <c>FINSERVERLESS_MASTER_SCALE</c>); the
/// default has nine grades, from under 0.25% to 30% and above, each about twice the PD of the one before.
/// </summary>
public sealed class RiskBands
{
    private readonly string[] _names;
    private readonly double[] _upper;

    /// <summary>Creates bands from (name, upper bound) pairs, in increasing order, then the name of the top band.</summary>
    public RiskBands(IReadOnlyList<(string Name, double UpperBound)> bands, string top)
    {
        for (var i = 1; i < bands.Count; i++)
        {
            if (bands[i].UpperBound <= bands[i - 1].UpperBound)
            {
                throw new ArgumentException($"Risk band cut-offs must increase: '{bands[i].Name}' ({bands[i].UpperBound}) is not above '{bands[i - 1].Name}' ({bands[i - 1].UpperBound}).", nameof(bands));
            }
        }

        _names = bands.Select(b => b.Name).Append(top).ToArray();
        _upper = bands.Select(b => b.UpperBound).ToArray();
    }

    /// <summary>Bands A–E at 2%, 5%, 10%, 20% (a common retail-credit grading).</summary>
    public static RiskBands Default { get; } = new([("1", 0.0025), ("2", 0.005), ("3", 0.01), ("4", 0.02), ("5", 0.04), ("6", 0.08), ("7", 0.15), ("8", 0.30)], "9");

    /// <summary>The default master scale as the setting writes it.</summary>
    public const string DefaultText = "1:0.0025,2:0.005,3:0.01,4:0.02,5:0.04,6:0.08,7:0.15,8:0.3,9";

    /// <summary>The PD range of grade <paramref name="index"/>, for example "0.25% – 0.5%", "< 0.25%" or "≥ 30%".</summary>
    public string Range(int index)
    {
        static string Percent(double v) => (v * 100).ToString("0.##", CultureInfo.InvariantCulture) + "%";
        return index == 0 ? $"< {Percent(_upper[0])}"
            : index >= _upper.Length ? $"≥ {Percent(_upper[^1])}"
            : $"{Percent(_upper[index - 1])} – {Percent(_upper[index])}";
    }

    /// <summary>Band names, lowest risk first.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>Parses "A:0.02,B:0.05,C:0.1,D:0.2,E" (the last name without a bound is the top band).</summary>
    public static RiskBands Parse(string text, string setting = "FINSERVERLESS_MASTER_SCALE")
    {
        var parts = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var bands = new List<(string, double)>();
        for (var i = 0; i < parts.Length - 1; i++)
        {
            var pair = parts[i].Split(':');
            if (pair.Length != 2 || !double.TryParse(pair[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var bound) || bound is <= 0 or >= 1)
            {
                throw new ArgumentException($"Setting {setting}: '{parts[i]}' should be NAME:UPPER_BOUND with a bound between 0 and 1, as in " + DefaultText + ".");
            }

            bands.Add((pair[0], bound));
        }

        if (parts.Length < 2 || parts[^1].Contains(':'))
        {
            throw new ArgumentException($"Setting {setting}: end the list with the name of the top band, as in " + DefaultText + ".");
        }

        return new RiskBands(bands, parts[^1]);
    }

    /// <summary>Index of the band for a probability.</summary>
    public int IndexOf(double probability)
    {
        for (var i = 0; i < _upper.Length; i++)
        {
            if (probability < _upper[i])
            {
                return i;
            }
        }

        return _upper.Length;
    }

    /// <inheritdoc/>
    public override string ToString() => string.Join(",", _names.Select((n, i) => i < _upper.Length ? $"{n}:{_upper[i].ToString(CultureInfo.InvariantCulture)}" : n));
}
