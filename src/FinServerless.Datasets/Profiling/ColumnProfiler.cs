using System.Globalization;

namespace FinServerless.Datasets.Profiling;

/// <summary>
/// Accumulates a column's statistics in one pass with bounded memory: Welford mean/variance, a reservoir sample
/// (fixed seed, so profiles are reproducible) for quantiles and bin edges, category counts, and exact counts
/// in the reference profile's bins when a reference is given (for drift).
/// </summary>
internal sealed class ColumnProfiler
{
    private const int SampleSize = 20_000;
    private const int MaxCategories = 1_000;

    private readonly string _name;
    private readonly string _type;
    private readonly bool _categorical;
    private readonly double[] _sample = new double[SampleSize];
    private ulong _random;
    private readonly Dictionary<string, long>? _categories;
    private readonly double[]? _referenceEdges;
    private readonly long[]? _referenceBinCounts;
    private long _count;
    private long _nulls;
    private long _specials;
    private double _shift;
    private double _sum;
    private double _sumSquares;
    private double _min = double.PositiveInfinity;
    private double _max = double.NegativeInfinity;

    public ColumnProfiler(string name, string type, bool categorical, Histogram? reference, int seed)
    {
        _name = name;
        _type = type;
        _categorical = categorical;
        _random = (ulong)seed * 0x9E3779B97F4A7C15UL | 1;
        _categories = categorical ? new Dictionary<string, long>(StringComparer.Ordinal) : null;
        if (reference is not null && !categorical)
        {
            _referenceEdges = reference.Edges.ToArray();
            _referenceBinCounts = new long[_referenceEdges.Length + 1];
        }
    }

    /// <summary>Counts in the reference's bins (null without a reference).</summary>
    public long[]? ReferenceBinCounts => _referenceBinCounts;

    public void AddMissing() => _nulls++;

    public void AddSpecial() => _specials++;

    /// <summary>Adds values in order: the same result as <see cref="Add"/> on each, in one tight loop.</summary>
    public void AddRange(ReadOnlySpan<double> values)
    {
        var i = 0;

        // The first values fill the reservoir (and set the shift) one by one.
        while (i < values.Length && _count < SampleSize)
        {
            Add(values[i++]);
        }

        if (i == values.Length)
        {
            return;
        }

        double sum = _sum, sumSquares = _sumSquares, min = _min, max = _max;
        var rest = values[i..];
        foreach (var value in rest)
        {
            Accumulate(value, _shift, ref sum, ref sumSquares, ref min, ref max);
        }

        (_sum, _sumSquares, _min, _max) = (sum, sumSquares, min, max);

        // Replacements fall where the skips say; values in between only counted.
        var first = _count + 1;
        var last = _count + rest.Length;
        while (_nextReplacement <= last)
        {
            _count = _nextReplacement;
            _sample[(int)(NextRandom() % SampleSize)] = rest[(int)(_nextReplacement - first)];
            _w *= Math.Exp(Math.Log(NextUniform()) / SampleSize);
            ScheduleNextReplacement();
        }

        _count = last;
        if (_referenceEdges is not null)
        {
            foreach (var value in rest)
            {
                _referenceBinCounts![BinOf(_referenceEdges, value)]++;
            }
        }
    }

    public void Add(double value)
    {
        // Sums shifted by the first value keep the variance accurate without a division per value.
        if (_count++ == 0)
        {
            _shift = value;
        }

        Accumulate(value, _shift, ref _sum, ref _sumSquares, ref _min, ref _max);

        if (_count <= SampleSize)
        {
            _sample[_count - 1] = value;
            if (_count == SampleSize)
            {
                _w = Math.Exp(Math.Log(NextUniform()) / SampleSize);
                ScheduleNextReplacement();
            }
        }
        else if (_count == _nextReplacement)
        {
            _sample[(int)(NextRandom() % SampleSize)] = value;
            _w *= Math.Exp(Math.Log(NextUniform()) / SampleSize);
            ScheduleNextReplacement();
        }

        if (_referenceEdges is not null)
        {
            _referenceBinCounts![BinOf(_referenceEdges, value)]++;
        }
    }

    // Reservoir sampling by skips (Li's "Algorithm L"): instead of a random draw for every value, draw how many
    // values to pass over before the next one enters the reservoir, so a full reservoir costs one compare per
    // value. Same distribution as drawing per value; a fixed seed keeps profiles reproducible.
    private double _w;
    private long _nextReplacement;

    private void ScheduleNextReplacement() =>
        _nextReplacement = _count + (long)Math.Floor(Math.Log(NextUniform()) / Math.Log(1 - _w)) + 1;

    private ulong NextRandom()
    {
        _random ^= _random << 13;
        _random ^= _random >> 7;
        _random ^= _random << 17;
        return _random;
    }

    /// <summary>Uniform in (0, 1).</summary>
    private double NextUniform() => ((NextRandom() >> 11) + 0.5) * (1.0 / (1UL << 53));

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    private static void Accumulate(double value, double shift, ref double sum, ref double sumSquares, ref double min, ref double max)
    {
        var d = value - shift;
        sum += d;
        sumSquares += d * d;
        if (value < min)
        {
            min = value;
        }

        if (value > max)
        {
            max = value;
        }
    }

    public void AddCategory(string value)
    {
        _count++;
        if (_categories!.TryGetValue(value, out var n))
        {
            _categories[value] = n + 1;
        }
        else if (_categories.Count < MaxCategories)
        {
            _categories[value] = 1;
        }
        else
        {
            _categories["__other__"] = _categories.GetValueOrDefault("__other__") + 1;
        }
    }

    /// <summary>Folds another profiler of the same column (another worker's share of the rows) into this one.</summary>
    public void Merge(ColumnProfiler other)
    {
        _nulls += other._nulls;
        _specials += other._specials;
        if (_categories is not null)
        {
            foreach (var (key, seen) in other._categories!)
            {
                _categories[key] = _categories.GetValueOrDefault(key) + seen;
            }

            _count += other._count;
            return;
        }

        if (_referenceBinCounts is not null)
        {
            for (var i = 0; i < _referenceBinCounts.Length; i++)
            {
                _referenceBinCounts[i] += other._referenceBinCounts![i];
            }
        }

        if (other._count == 0)
        {
            return;
        }

        if (_count == 0)
        {
            (_shift, _sum, _sumSquares, _min, _max, _count) = (other._shift, other._sum, other._sumSquares, other._min, other._max, other._count);
            (_w, _nextReplacement) = (other._w, other._nextReplacement);
            Array.Copy(other._sample, _sample, Math.Min(other._count, SampleSize));
            return;
        }

        // Pool means and squared deviations (Chan et al.), then keep them as sums shifted by the mean.
        double n1 = _count, n2 = other._count, n = n1 + n2;
        var mean1 = _shift + (_sum / n1);
        var mean2 = other._shift + (other._sum / n2);
        var m2a = _sumSquares - (_sum * _sum / n1);
        var m2b = other._sumSquares - (other._sum * other._sum / n2);
        var delta = mean2 - mean1;
        var mean = mean1 + (delta * n2 / n);
        var m2 = m2a + m2b + (delta * delta * n1 * n2 / n);

        // Merge the reservoirs: each slot comes from either side in proportion to the rows it saw.
        var a = _sample[..(int)Math.Min(_count, SampleSize)];
        var b = other._sample[..(int)Math.Min(other._count, SampleSize)];
        var take = (int)Math.Min(SampleSize, a.Length + b.Length);
        int ia = 0, ib = 0;
        for (var k = 0; k < take; k++)
        {
            var fromA = ib >= b.Length || (ia < a.Length && (NextRandom() % (ulong)n) < (ulong)n1);
            _sample[k] = fromA ? a[ia++] : b[ib++];
        }

        _count += other._count;
        if (_count >= SampleSize)
        {
            // Values added after a merge go on sampling at the merged count's rate.
            _w = Math.Exp(Math.Log(NextUniform()) / SampleSize) * Math.Min(1, (double)SampleSize / _count);
            ScheduleNextReplacement();
        }

        _shift = mean;
        _sum = 0;
        _sumSquares = m2;
        _min = Math.Min(_min, other._min);
        _max = Math.Max(_max, other._max);
    }

    public static int BinOf(double[] edges, double value)
    {
        var i = Array.BinarySearch(edges, value);
        return i >= 0 ? i : ~i;
    }

    public ColumnProfile Build()
    {
        if (_categorical)
        {
            return new ColumnProfile { Name = _name, Type = _type, Count = _count, Nulls = _nulls, Specials = _specials, Categories = new SortedDictionary<string, long>(_categories!, StringComparer.Ordinal) };
        }

        if (_count == 0)
        {
            return new ColumnProfile { Name = _name, Type = _type, Count = 0, Nulls = _nulls, Specials = _specials };
        }

        var n = (int)Math.Min(_count, SampleSize);
        var sorted = _sample[..n];
        Array.Sort(sorted);
        double Q(double p) => sorted[Math.Clamp((int)Math.Round(p * (n - 1)), 0, n - 1)];
        var quantiles = new Dictionary<string, double>
        {
            ["p01"] = Q(0.01), ["p05"] = Q(0.05), ["p25"] = Q(0.25), ["p50"] = Q(0.50),
            ["p75"] = Q(0.75), ["p95"] = Q(0.95), ["p99"] = Q(0.99),
        };
        var edges = Enumerable.Range(1, 9).Select(d => Q(d / 10.0)).Distinct().ToArray();
        var counts = new long[edges.Length + 1];
        foreach (var v in sorted)
        {
            counts[BinOf(edges, v)]++;
        }

        return new ColumnProfile
        {
            Name = _name,
            Type = _type,
            Count = _count,
            Nulls = _nulls,
            Specials = _specials,
            Min = _min,
            Max = _max,
            Mean = _shift + (_sum / _count),
            Std = Math.Sqrt(Math.Max(0, (_sumSquares / _count) - ((_sum / _count) * (_sum / _count)))),
            Quantiles = quantiles,
            Histogram = new Histogram(edges, counts.Select(c => Math.Round((double)c / n, 6)).ToArray()),
        };
    }

    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{_name}: n={_count}");
}
