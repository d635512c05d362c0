namespace FinServerless.Datasets.Profiling;

/// <summary>Statistics of one column of a run (recorded in its manifest; a training run's profile is the drift reference).</summary>
public sealed record ColumnProfile
{
    /// <summary>Output column name.</summary>
    public required string Name { get; init; }

    /// <summary>Column type.</summary>
    public required string Type { get; init; }

    /// <summary>Rows with a value (not missing, not special).</summary>
    public long Count { get; init; }

    /// <summary>Missing values (after imputation, so imputed values count as present).</summary>
    public long Nulls { get; init; }

    /// <summary>Sentinel codes kept as "special".</summary>
    public long Specials { get; init; }

    /// <summary>Smallest value.</summary>
    public double? Min { get; init; }

    /// <summary>Largest value.</summary>
    public double? Max { get; init; }

    /// <summary>Mean.</summary>
    public double? Mean { get; init; }

    /// <summary>Standard deviation (population).</summary>
    public double? Std { get; init; }

    /// <summary>Quantiles p01, p05, p25, p50, p75, p95, p99, estimated from a uniform sample of up to 20,000 values.</summary>
    public IReadOnlyDictionary<string, double>? Quantiles { get; init; }

    /// <summary>Histogram: bin edges (deciles of this column) and the share of non-missing values in each bin.</summary>
    public Histogram? Histogram { get; init; }

    /// <summary>Category counts (up to 1,000 distinct values; the rest counted as "__other__").</summary>
    public IReadOnlyDictionary<string, long>? Categories { get; init; }

    /// <summary>Share of missing values among all rows (used as its own bin in drift).</summary>
    public double NullShare => Count + Nulls + Specials == 0 ? 0 : (double)Nulls / (Count + Nulls + Specials);
}

/// <summary>Bins for drift: interior edges (bins are (-inf, e0], (e0, e1], …, (eN, +inf)) and the share in each.</summary>
public sealed record Histogram(IReadOnlyList<double> Edges, IReadOnlyList<double> Shares);

/// <summary>The profile of a run: rows and every output column.</summary>
public sealed record DatasetProfile(long Rows, IReadOnlyList<ColumnProfile> Columns)
{
    /// <summary>The profile of a column by output name.</summary>
    public ColumnProfile? this[string name] => Columns.FirstOrDefault(c => c.Name == name);
}
