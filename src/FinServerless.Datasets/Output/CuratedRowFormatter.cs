using System.Globalization;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Csv;
using FinServerless.Datasets.Validation;

namespace FinServerless.Datasets.Output;

/// <summary>Writes validated rows in the canonical form: contract order, invariant numbers, ISO dates, missing as empty.</summary>
public sealed class CuratedRowFormatter
{
    private readonly RowProcessor _processor;
    private readonly int[] _columns;
    private readonly long[] _neutralized;

    /// <summary>Creates a formatter for the processor's contract.</summary>
    public CuratedRowFormatter(RowProcessor processor)
    {
        _processor = processor;
        _columns = Enumerable.Range(0, processor.Contract.Columns.Count).Where(i => processor.Contract.Columns[i].Role != ColumnRole.Ignore).ToArray();
        _neutralized = new long[processor.Contract.Columns.Count];
    }

    /// <summary>Per contract column: cells written neutralized so far, because a spreadsheet would run them as formulas.</summary>
    public IReadOnlyList<long> NeutralizedCells => _neutralized;

    /// <summary>The output header names.</summary>
    public IReadOnlyList<string> Header => _columns.Select(i => _processor.Contract.Columns[i].EffectiveOutputName).ToList();

    /// <summary>Writes the header row.</summary>
    public void WriteHeader(Utf8CsvWriter writer)
    {
        foreach (var name in Header)
        {
            writer.Field(name);
        }

        writer.EndRow();
    }

    /// <summary>Writes the processor's current (valid) row.</summary>
    public void WriteRow(Utf8CsvWriter writer, CsvReader row)
    {
        if (_processor.RowIsVerbatim)
        {
            writer.AppendRows(row.RawRow);
            writer.EndRow();
            return;
        }

        foreach (var c in _columns)
        {
            var state = _processor.States[c];
            if (state == CellState.Missing)
            {
                writer.Empty();
                continue;
            }

            var plan = _processor.Plan(c);
            var spec = plan.Spec;
            if (plan.TargetLabels is not null && state == CellState.Value)
            {
                writer.Field(_processor.Integers[c]);
                continue;
            }

            if (_processor.Canonical[c] && !_processor.Imputed[c] && (!plan.ChangesValues || state == CellState.Special))
            {
                // The cell already reads as its canonical value (digits, sign, point): copy it as is.
                writer.SafeField(row[_processor.Position(c)]);
                continue;
            }

            switch (spec.Type)
            {
                case ColumnType.Integer when !plan.ChangesValues || state == CellState.Special:
                    writer.Field(_processor.Integers[c]);
                    break;
                case ColumnType.Integer:
                case ColumnType.Float:
                case ColumnType.Boolean:
                    writer.Field(_processor.Numbers[c]);
                    break;
                case ColumnType.Decimal:
                    if (plan.ChangesValues || _processor.Imputed[c] || _processor.Contract.File.DecimalSeparator != "." || _processor.Position(c) < 0)
                    {
                        writer.Field(_processor.Numbers[c]);
                    }
                    else
                    {
                        writer.Field(row[_processor.Position(c)]);
                    }

                    break;
                case ColumnType.Date when plan.MonthsTo is not null:
                    writer.Field((long)_processor.Numbers[c]);
                    break;
                case ColumnType.Date:
                    writer.Field(DateOnly.FromDayNumber((int)_processor.Numbers[c]).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
                    break;
                case ColumnType.Category when plan.EncodeOrdinal:
                    writer.Field((long)_processor.Numbers[c]);
                    break;
                default:
                    if (_processor.Neutralized[c])
                    {
                        writer.Field((byte)Ingest.SpreadsheetSafe.Prefix, row[_processor.Position(c)]);
                        _neutralized[c]++;
                    }
                    else
                    {
                        writer.Field(row[_processor.Position(c)]);
                    }

                    break;
            }
        }

        writer.EndRow();
    }
}
