using System.Globalization;
using System.Text;
using FinServerless.Datasets.Contracts;

namespace FinServerless.Datasets.Validation;

/// <summary>A column's contract compiled for the hot path: byte-level token tables, allowed sets, normalization.</summary>
internal sealed class ColumnPlan
{
    private readonly byte[][] _missingTokens;
    private readonly (byte[] Bytes, SentinelMeaning Meaning)[] _sentinels;
    private readonly Dictionary<string, int>? _categories;
    private readonly double _scaleOffset;
    private readonly double _scaleDivisor = 1;

    public ColumnPlan(ColumnSpec spec, IReadOnlyList<string> defaultMissing)
    {
        Spec = spec;
        _missingTokens = (spec.MissingTokens ?? defaultMissing).Select(Encoding.UTF8.GetBytes).ToArray();
        _sentinels = (spec.Sentinels ?? new Dictionary<string, SentinelMeaning>()).Select(s => (Encoding.UTF8.GetBytes(s.Key), s.Value)).ToArray();
        IsNumeric = spec.Type is ColumnType.Integer or ColumnType.Decimal or ColumnType.Float or ColumnType.Boolean;
        Type = spec.Type;
        Min = spec.Min ?? double.NegativeInfinity;
        Max = spec.Max ?? double.PositiveInfinity;
        MaxMissingTokenLength = _missingTokens.Length == 0 ? -1 : _missingTokens.Max(t => t.Length);
        HasSentinels = _sentinels.Length > 0;
        foreach (var token in _missingTokens.Concat(_sentinels.Select(s => s.Bytes)))
        {
            if (token.Length == 0)
            {
                EmptyMayBeToken = true;
            }
            else
            {
                _tokenFirstBytes[token[0]] = true;
            }
        }

        VerbatimText = spec.Type is ColumnType.String || (spec.Type is ColumnType.Category && spec.Normalize?.Encode != "ordinal");
        // Free text, and an open category's values (the file's, not the contract's), may start like a formula.
        NeutralizesFormulas = spec.Type is ColumnType.String || spec.IsOpenCategory;
        DateFormat = spec.Format ?? "yyyy-MM-dd";
        if (spec.Allowed is { } allowed)
        {
            AllowedList = allowed.Count <= 12 ? string.Join(", ", allowed) : $"{string.Join(", ", allowed.Take(12))} … ({allowed.Count} values)";
            if (spec.Type == ColumnType.Integer)
            {
                AllowedIntegers = allowed.Select(a => long.Parse(a, CultureInfo.InvariantCulture)).ToHashSet();
                if (AllowedIntegers.All(v => v is >= 0 and < 64))
                {
                    _allowedSmall = AllowedIntegers.Aggregate(0UL, (mask, v) => mask | (1UL << (int)v));
                }
            }
            else
            {
                _categories = new Dictionary<string, int>(StringComparer.Ordinal);
                for (var i = 0; i < allowed.Count; i++)
                {
                    _categories.TryAdd(allowed[i], i);
                }
            }
        }

        if (spec.TargetValues is { } targetValues)
        {
            TargetLabels = new Dictionary<string, int>(StringComparer.Ordinal);
            foreach (var (values, label) in new[] { (targetValues.Positive, 1), (targetValues.Negative, 0), (targetValues.Drop, -1) })
            {
                foreach (var value in values)
                {
                    TargetLabels[value] = label;
                }
            }
            TargetValuesList = $"positive {Quoted(targetValues.Positive)}, negative {Quoted(targetValues.Negative)}" + (targetValues.Drop.Count > 0 ? $", drop {Quoted(targetValues.Drop)}" : string.Empty);
        }

        OpenCategory = spec.IsOpenCategory;
        var n = spec.Normalize;
        if (n is not null)
        {
            Imputed = n.Impute switch
            {
                "mean" => n.Reference!.Mean,
                "median" => n.Reference!.Median,
                "constant" => n.ImputeValue,
                "zero" => 0,
                _ => null,
            };
            if (n.Clip is { } clip)
            {
                ClipLow = clip[0];
                ClipHigh = clip[1];
            }

            if (n.Scale == "standard")
            {
                _scaleOffset = n.Reference!.Mean!.Value;
                _scaleDivisor = n.Reference.Std!.Value;
            }
            else if (n.Scale == "minmax")
            {
                _scaleOffset = n.Reference!.Min!.Value;
                _scaleDivisor = n.Reference.Max!.Value - n.Reference.Min.Value;
            }

            IsScaled = n.Scale != "none";
            EncodeOrdinal = n.Encode == "ordinal";
            if (n.Encode == "monthsSince")
            {
                MonthsTo = DateOnly.ParseExact(n.ReferenceDate!, "yyyy-MM-dd", CultureInfo.InvariantCulture);
            }
        }

        ChangesValues = IsScaled || ClipLow > double.NegativeInfinity || ClipHigh < double.PositiveInfinity;
    }

    public ColumnSpec Spec { get; }

    // Hot-path copies of the contract's settings (fields, not nullable properties).
    public readonly ColumnType Type;
    public readonly double Min;
    public readonly double Max;
    public readonly int MaxMissingTokenLength;
    public readonly bool HasSentinels;

    public bool IsNumeric { get; }

    public string DateFormat { get; }

    public string AllowedList { get; } = string.Empty;

    public HashSet<long>? AllowedIntegers { get; }

    public double? Imputed { get; }

    public double ClipLow { get; } = double.NegativeInfinity;

    public double ClipHigh { get; } = double.PositiveInfinity;

    /// <summary>Whether output values are no longer the file's values (so they are written as computed numbers).</summary>
    public bool IsScaled { get; }

    public bool EncodeOrdinal { get; }

    /// <summary>For a date column encoded as months since it (<c>encode: monthsSince</c>): the date months are counted to.</summary>
    public DateOnly? MonthsTo { get; }

    /// <summary>For a target column with <c>targetValues</c>: each listed value's label (1, 0, or -1 for no label).</summary>
    public Dictionary<string, int>? TargetLabels { get; }

    /// <summary>The target's listed values, for messages (the contract's own text).</summary>
    public string TargetValuesList { get; } = string.Empty;

    /// <summary>An open category column: any value is accepted and kept as text.</summary>
    public bool OpenCategory { get; }

    /// <summary>The label of a target cell: 1, 0, -1 (listed as dropped), or null (not listed).</summary>
    public int? TargetLabel(ReadOnlySpan<byte> cell)
    {
        Span<char> chars = stackalloc char[Math.Min(cell.Length, 256)];
        if (cell.Length > 256)
        {
            return null;
        }

        var n = Encoding.UTF8.GetChars(cell, chars);
        return TargetLabels!.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(chars[..n], out var label) ? label : null;
    }

    /// <summary>Whole months from <paramref name="date"/> to <see cref="MonthsTo"/> (negative when the date is later).</summary>
    public double MonthsSince(DateOnly date)
    {
        var to = MonthsTo!.Value;
        var months = ((to.Year - date.Year) * 12) + to.Month - date.Month;
        // A month counts once its day is reached.
        if (months > 0 && to.Day < date.Day)
        {
            months--;
        }
        else if (months < 0 && to.Day > date.Day)
        {
            months++;
        }

        return months;
    }

    private static string Quoted(IReadOnlyList<string> values) => string.Join("/", values.Select(v => $"'{v}'"));

    public bool ChangesValues { get; private set; }

    /// <summary>Whether an empty cell is a missing token or a sentinel.</summary>
    public readonly bool EmptyMayBeToken;

    /// <summary>Whether the curated form of a valid cell of this column is its text (strings, categories not encoded).</summary>
    public readonly bool VerbatimText;

    /// <summary>
    /// Whether a value that a spreadsheet would run as a formula is written neutralized (string columns; a
    /// category's values are the contract's own, and numbers such as -5 are numbers).
    /// </summary>
    public readonly bool NeutralizesFormulas;

    private readonly bool[] _tokenFirstBytes = new bool[256];

    /// <summary>False when no missing token or sentinel can match the cell (checked on its first byte).</summary>
    public bool MayBeToken(ReadOnlySpan<byte> cell) => cell.Length == 0 ? EmptyMayBeToken : _tokenFirstBytes[cell[0]];

    // Allowed integers all in 0..63 (codes, flags, targets): a bit mask instead of a set.
    private readonly ulong? _allowedSmall;

    /// <summary>Whether an integer is allowed (always, when the contract lists no values).</summary>
    public bool IsAllowed(long value) => _allowedSmall is { } mask
        ? (ulong)value < 64 && (mask & (1UL << (int)value)) != 0
        : AllowedIntegers is not { } set || set.Contains(value);

    public bool IsMissingToken(ReadOnlySpan<byte> cell)
    {
        if (cell.Length > MaxMissingTokenLength)
        {
            return false;
        }

        foreach (var token in _missingTokens)
        {
            if (cell.SequenceEqual(token))
            {
                return true;
            }
        }

        return false;
    }

    public SentinelMeaning? Sentinel(ReadOnlySpan<byte> cell)
    {
        if (!HasSentinels)
        {
            return null;
        }

        foreach (var (bytes, meaning) in _sentinels)
        {
            if (cell.SequenceEqual(bytes))
            {
                return meaning;
            }
        }

        return null;
    }

    public int CategoryIndex(ReadOnlySpan<byte> cell)
    {
        if (_categories is null)
        {
            return -1;
        }

        var lookup = _categories.GetAlternateLookup<ReadOnlySpan<char>>();
        Span<char> chars = stackalloc char[Math.Min(cell.Length, 256)];
        if (cell.Length > 256)
        {
            return -1;
        }

        var n = Encoding.UTF8.GetChars(cell, chars);
        return lookup.TryGetValue(chars[..n], out var index) ? index : -1;
    }

    /// <summary>Clip, then scale (imputation happens before, for missing values).</summary>
    public double Normalize(double value)
    {
        value = Math.Clamp(value, ClipLow, ClipHigh);
        return IsScaled ? (value - _scaleOffset) / _scaleDivisor : value;
    }
}
