namespace FinServerless.Datasets.Profiling;

/// <summary>Drift of one feature against a reference profile.</summary>
public sealed record FeatureDrift(string Column, double Psi, string Band);

/// <summary>
/// Population Stability Index: Σ (actual − expected) · ln(actual / expected) over bins (the reference's
/// deciles, plus a bin for missing values; categories for categorical columns). Bands: below 0.1 stable,
/// 0.1–0.25 moderate shift, above 0.25 significant shift.
/// </summary>
public static class Drift
{
    private const double Floor = 1e-4;

    /// <summary>The band for a PSI value.</summary>
    public static string Band(double psi) => psi < 0.1 ? "stable" : psi < 0.25 ? "moderate" : "significant";

    /// <summary>PSI of two share vectors of equal length (shares are floored to avoid log(0)).</summary>
    public static double Psi(IReadOnlyList<double> expected, IReadOnlyList<double> actual)
    {
        if (expected.Count != actual.Count)
        {
            throw new ArgumentException($"PSI needs the same bins on both sides ({expected.Count} vs {actual.Count}).");
        }

        double psi = 0;
        for (var i = 0; i < expected.Count; i++)
        {
            var e = Math.Max(expected[i], Floor);
            var a = Math.Max(actual[i], Floor);
            psi += (a - e) * Math.Log(a / e);
        }

        return psi;
    }

    /// <summary>PSI of a numeric column from exact counts in the reference's bins.</summary>
    internal static FeatureDrift Numeric(ColumnProfile reference, long[] binCounts, long nulls)
    {
        var refNull = reference.NullShare;
        var expected = reference.Histogram!.Shares.Select(s => s * (1 - refNull)).Append(refNull).ToList();
        var total = binCounts.Sum() + nulls;
        var actual = binCounts.Select(c => total == 0 ? 0 : (double)c / total).Append(total == 0 ? 0 : (double)nulls / total).ToList();
        var psi = Psi(expected, actual);
        return new FeatureDrift(reference.Name, Math.Round(psi, 6), Band(psi));
    }

    /// <summary>PSI of a categorical column from category counts.</summary>
    internal static FeatureDrift Categorical(ColumnProfile reference, ColumnProfile current)
    {
        var keys = reference.Categories!.Keys.Union(current.Categories?.Keys ?? []).Order(StringComparer.Ordinal).ToList();
        var refTotal = reference.Categories!.Values.Sum() + reference.Nulls;
        var curTotal = (current.Categories?.Values.Sum() ?? 0) + current.Nulls;
        var expected = keys.Select(k => refTotal == 0 ? 0 : (double)reference.Categories.GetValueOrDefault(k) / refTotal).Append(refTotal == 0 ? 0 : (double)reference.Nulls / refTotal).ToList();
        var actual = keys.Select(k => curTotal == 0 ? 0 : (double)(current.Categories?.GetValueOrDefault(k) ?? 0) / curTotal).Append(curTotal == 0 ? 0 : (double)current.Nulls / curTotal).ToList();
        var psi = Psi(expected, actual);
        return new FeatureDrift(reference.Name, Math.Round(psi, 6), Band(psi));
    }

    /// <summary>
    /// PSI of each column present in both profiles, from the profiles alone (when the rows are no longer at hand, for
    /// example a scoring run against a model's training profile). Categorical columns are exact; a numeric column's
    /// current histogram is spread uniformly within its bins over the reference's bins, an approximation.
    /// </summary>
    public static IReadOnlyList<FeatureDrift> BetweenProfiles(DatasetProfile reference, DatasetProfile current, IEnumerable<string> columns)
    {
        var result = new List<FeatureDrift>();
        foreach (var name in columns)
        {
            if (reference[name] is not { } r || current[name] is not { } c)
            {
                continue;
            }

            if (r.Categories is not null)
            {
                result.Add(Categorical(r, c));
            }
            else if (r.Histogram is { } rh && c.Histogram is { } ch && c.Min is { } min && c.Max is { } max)
            {
                var edges = rh.Edges.ToArray();
                var mass = new double[edges.Length + 1];
                for (var i = 0; i < ch.Shares.Count; i++)
                {
                    var lo = i == 0 ? min : ch.Edges[i - 1];
                    var hi = i == ch.Shares.Count - 1 ? max : ch.Edges[i];
                    Spread(edges, mass, lo, hi, ch.Shares[i]);
                }

                var counted = c.Count;
                result.Add(Numeric(r, mass.Select(m => (long)Math.Round(m * counted)).ToArray(), c.Nulls));
            }
        }

        return result;
    }

    private static void Spread(double[] edges, double[] mass, double lo, double hi, double share)
    {
        if (!(hi > lo))
        {
            mass[ColumnProfiler.BinOf(edges, lo)] += share;
            return;
        }

        for (var b = 0; b <= edges.Length; b++)
        {
            var binLo = b == 0 ? double.NegativeInfinity : edges[b - 1];
            var binHi = b == edges.Length ? double.PositiveInfinity : edges[b];
            var overlap = Math.Min(hi, binHi) - Math.Max(lo, binLo);
            if (overlap > 0)
            {
                mass[b] += share * overlap / (hi - lo);
            }
        }
    }
}
