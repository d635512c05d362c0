using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Csv;

namespace FinServerless.Datasets.Validation;

/// <summary>State of one parsed cell.</summary>
public enum CellState : byte
{
    /// <summary>A valid value.</summary>
    Value,
    /// <summary>Missing (a missing token, an empty cell, or a sentinel meaning missing).</summary>
    Missing,
    /// <summary>A sentinel code kept as is (excluded from ranges and statistics).</summary>
    Special,
}

/// <summary>
/// Validates a row against the contract, collecting every failure (lazy validation), and keeps the parsed,
/// normalized values for the writer and the profiler. One instance per file; not thread-safe.
/// </summary>
public sealed class RowProcessor
{
    private readonly ColumnPlan[] _plans;
    private readonly HeaderMap _map;
    private readonly List<RowFailure> _failures = new(8);
    private readonly NumberFormatInfo _numbers;

    /// <summary>Builds the per-column plans for a contract and a header mapping.</summary>
    public RowProcessor(DatasetContract contract, HeaderMap map)
    {
        Contract = contract;
        _map = map;
        _numbers = new NumberFormatInfo { NumberDecimalSeparator = contract.File.DecimalSeparator, NegativeSign = "-", PositiveSign = "+" };
        _plans = contract.Columns.Select(c => new ColumnPlan(c, contract.MissingTokens)).ToArray();
        States = new CellState[_plans.Length];
        Numbers = new double[_plans.Length];
        Integers = new long[_plans.Length];
        Imputed = new bool[_plans.Length];
        Canonical = new bool[_plans.Length];
        Neutralized = new bool[_plans.Length];
        _decimalSeparator = (byte)contract.File.DecimalSeparator[0];
        _positions = map.Positions;
        _identityLayout = map.FieldCount == _plans.Length
            && Enumerable.Range(0, _plans.Length).All(c => map.Positions[c] == c && contract.Columns[c].Role != ColumnRole.Ignore)
            && contract.File.Delimiter == ",";
    }

    private readonly byte _decimalSeparator;

    // Rows of a file laid out like the output (every contract column, in order, none ignored, comma-separated)
    // whose cells all stay as they are can be copied whole.
    private readonly bool _identityLayout;
    private readonly int[] _positions;
    private bool _verbatim;

    /// <summary>Whether the last valid row's curated form is its own text (see <see cref="CsvReader.RawRow"/>).</summary>
    public bool RowIsVerbatim => _verbatim;

    /// <summary>Per contract column: whether the last row's cell text is already the canonical form of its value.</summary>
    public bool[] Canonical { get; }

    /// <summary>
    /// Per contract column: whether the last row's cell (a string column's value) starts like a spreadsheet formula
    /// and is written neutralized (see <see cref="Ingest.SpreadsheetSafe"/>). Set for every string cell with a value.
    /// </summary>
    public bool[] Neutralized { get; }

    /// <summary>Per contract column: whether the last row's value was imputed.</summary>
    public bool[] Imputed { get; }

    /// <summary>The contract.</summary>
    public DatasetContract Contract { get; }

    /// <summary>Failures of the last processed row.</summary>
    public IReadOnlyList<RowFailure> Failures => _failures;

    /// <summary>Per contract column: the state of the last row's cell.</summary>
    public CellState[] States { get; }

    /// <summary>Per contract column: numeric value (numbers, booleans as 0/1, dates as day numbers, category index).</summary>
    public double[] Numbers { get; }

    /// <summary>Per contract column: exact integer value for integer columns.</summary>
    public long[] Integers { get; }

    /// <summary>Fields every row must have.</summary>
    public int ExpectedFieldCount => _map.FieldCount;

    /// <summary>Field index in the file of contract column <paramref name="column"/> (-1 when absent).</summary>
    public int Position(int column) => _map.Positions[column];

    /// <summary>The compiled plan of a column.</summary>
    internal ColumnPlan Plan(int column) => _plans[column];

    /// <summary>Validates and normalizes the reader's current row; true when it has no failures.</summary>
    public bool Process(CsvReader row)
    {
        _failures.Clear();
        _verbatim = _identityLayout && row.RowIsPlain;
        if (row.FieldCount != _map.FieldCount)
        {
            _failures.Add(new RowFailure(-1, Rules.FieldCount, $"expected {_map.FieldCount} fields, found {row.FieldCount}"));
            return false;
        }

        if (!row.RowIsValidUtf8)
        {
            _failures.Add(new RowFailure(-1, Rules.Encoding, "the row is not valid UTF-8"));
            return false;
        }

        var positions = _positions;
        var plans = _plans;
        for (var c = 0; c < plans.Length; c++)
        {
            var position = positions[c];
            var plan = plans[c];
            if (position < 0)
            {
                SetMissing(c, plan);
                continue;
            }

            ProcessCell(c, plan, row[position]);
        }

        return _failures.Count == 0;
    }

    private void ProcessCell(int c, ColumnPlan plan, ReadOnlySpan<byte> cell)
    {
        var state = CellState.Value;
        if (plan.MayBeToken(cell))
        {
            var sentinel = plan.IsMissingToken(cell) ? SentinelMeaning.Missing : plan.Sentinel(cell);
            if (sentinel == SentinelMeaning.Missing)
            {
                SetMissing(c, plan);
                _verbatim &= cell.Length == 0 && !Imputed[c];
                return;
            }

            if (sentinel == SentinelMeaning.Special)
            {
                state = CellState.Special;
            }
        }

        if (plan.TargetLabels is not null && state == CellState.Value)
        {
            ProcessTarget(c, plan, cell);
            return;
        }

        double value;
        var canonical = false;
        switch (plan.Type)
        {
            case ColumnType.Integer:
                if (!FastNumber.TryParseLong(cell, out var integer, out canonical))
                {
                    Fail(c, Rules.Type, "not an integer");
                    return;
                }

                Integers[c] = integer;
                value = integer;
                if (state != CellState.Special && !plan.IsAllowed(integer))
                {
                    Fail(c, Rules.Allowed, $"not one of {plan.AllowedList}");
                    return;
                }

                break;
            case ColumnType.Decimal:
            case ColumnType.Float:
                if (!FastNumber.TryParseDouble(cell, _decimalSeparator, _numbers, out value, out canonical))
                {
                    Fail(c, Rules.Type, "not a number");
                    return;
                }

                break;
            case ColumnType.Boolean:
                var b = ParseBoolean(cell);
                if (b is null)
                {
                    Fail(c, Rules.Type, "not a boolean (true/false, 1/0, yes/no)");
                    return;
                }

                value = b.Value ? 1 : 0;
                break;
            case ColumnType.Date:
                if (!TryParseDate(cell, plan.DateFormat, out value))
                {
                    Fail(c, Rules.Type, $"not a date in the format {plan.DateFormat}");
                    return;
                }

                if (plan.MonthsTo is not null)
                {
                    value = plan.MonthsSince(DateOnly.FromDayNumber((int)value));
                }

                break;
            case ColumnType.Category:
                if (plan.OpenCategory)
                {
                    // Any value: kept as its text, encoded later by each model from the values it saw most.
                    value = double.NaN;
                    break;
                }

                var index = plan.CategoryIndex(cell);
                if (index < 0 && state != CellState.Special)
                {
                    Fail(c, Rules.Allowed, $"not one of {plan.AllowedList}");
                    return;
                }

                value = index;
                break;
            default:
                value = double.NaN;
                break;
        }

        if (state == CellState.Value && plan.IsNumeric)
        {
            if (value < plan.Min)
            {
                Fail(c, Rules.Min, $"below the minimum {plan.Min.ToString(CultureInfo.InvariantCulture)}");
                return;
            }

            if (value > plan.Max)
            {
                Fail(c, Rules.Max, $"above the maximum {plan.Max.ToString(CultureInfo.InvariantCulture)}");
                return;
            }

            if (plan.ChangesValues)
            {
                value = plan.Normalize(value);
            }
        }

        States[c] = state;
        Numbers[c] = value;
        Canonical[c] = canonical;
        Imputed[c] = false;

        // The curated text of this cell is the cell itself (see CuratedRowFormatter): a canonical number kept
        // as it is, or text without a carriage return (the only byte a plain row's cell could need quoted for)
        // that does not start like a formula. Sentinels are the contract's own text and stay as declared.
        if (plan.VerbatimText)
        {
            var formula = plan.NeutralizesFormulas && state == CellState.Value && cell.Length > 0 && Ingest.SpreadsheetSafe.StartsFormula(cell[0]);
            Neutralized[c] = formula;
            _verbatim &= !formula && cell.IndexOf((byte)'\r') < 0;
        }
        else
        {
            _verbatim &= canonical && (!plan.ChangesValues || state == CellState.Special) && plan.MonthsTo is null;
        }
    }

    /// <summary>A mapped target: the listed value's label, no label for a dropped value, a failure for any other.</summary>
    private void ProcessTarget(int c, ColumnPlan plan, ReadOnlySpan<byte> cell)
    {
        _verbatim = false;
        switch (plan.TargetLabel(cell))
        {
            case null:
                Fail(c, Rules.TargetValue, $"not one of the target's values ({plan.TargetValuesList})");
                return;
            case -1:
                States[c] = CellState.Missing;
                Numbers[c] = double.NaN;
                break;
            case { } label:
                States[c] = CellState.Value;
                Numbers[c] = label;
                Integers[c] = label;
                break;
        }

        Imputed[c] = false;
        Canonical[c] = false;
    }

    private void SetMissing(int c, ColumnPlan plan)
    {
        if (!plan.Spec.Nullable)
        {
            Fail(c, Rules.NotNull, "a value is required");
            return;
        }

        if (plan.Imputed is { } imputed)
        {
            States[c] = CellState.Value;
            Imputed[c] = true;
            Canonical[c] = false;
            Numbers[c] = plan.Normalize(imputed);
            Integers[c] = (long)imputed;
            return;
        }

        States[c] = CellState.Missing;
        Imputed[c] = false;
        Canonical[c] = false;
        Numbers[c] = double.NaN;
    }

    private void Fail(int column, string rule, string detail)
    {
        States[column] = CellState.Missing;
        _failures.Add(new RowFailure(column, rule, detail));
    }

    // Kept out of ProcessCell: a stack buffer there would make every call pay for it.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool TryParseDate(ReadOnlySpan<byte> cell, string format, out double dayNumber)
    {
        Span<char> chars = stackalloc char[64];
        var n = cell.Length <= 64 ? Encoding.UTF8.GetChars(cell, chars) : 0;
        DateOnly date = default;
        var ok = n > 0 && DateOnly.TryParseExact(chars[..n], format, CultureInfo.InvariantCulture, DateTimeStyles.None, out date);
        dayNumber = date.DayNumber;
        return ok;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool? ParseBoolean(ReadOnlySpan<byte> cell)
    {
        if (cell.Length == 1)
        {
            return cell[0] switch
            {
                (byte)'1' or (byte)'y' or (byte)'Y' or (byte)'t' or (byte)'T' => true,
                (byte)'0' or (byte)'n' or (byte)'N' or (byte)'f' or (byte)'F' => false,
                _ => null,
            };
        }

        Span<char> chars = stackalloc char[8];
        if (cell.Length > 5)
        {
            return null;
        }

        var n = Encoding.ASCII.GetChars(cell, chars);
        var s = chars[..n];
        if (s.Equals("true", StringComparison.OrdinalIgnoreCase) || s.Equals("yes", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        if (s.Equals("false", StringComparison.OrdinalIgnoreCase) || s.Equals("no", StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        return null;
    }
}
