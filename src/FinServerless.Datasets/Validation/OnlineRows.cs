using System.Text;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Csv;
using FinServerless.Datasets.Output;

namespace FinServerless.Datasets.Validation;

/// <summary>One row of a request that the contract refuses: its 1-based number, the column and the rule (never the value).</summary>
public sealed record OnlineRowFailure(int Row, string Column, string Rule, string Detail);

/// <summary>
/// Rows that arrive one request at a time (an HTTP scoring call), normalized by ingest's own code: written as CSV
/// under the contract's input names, read by <see cref="CsvReader"/>, validated and normalized by
/// <see cref="RowProcessor"/> (missing tokens, sentinels, imputation, clipping, ranges) and formatted by
/// <see cref="CuratedRowFormatter"/>, so a row scores the same over HTTP as after ingest. The target and id columns
/// are not inputs of scoring: they may be absent.
/// </summary>
public sealed class OnlineRows
{
    private readonly DatasetContract _contract;

    /// <summary>Normalizes rows by <paramref name="contract"/>.</summary>
    public OnlineRows(DatasetContract contract)
    {
        ArgumentNullException.ThrowIfNull(contract);
        _contract = contract with
        {
            Columns = contract.Columns.Select(c => c.Role is ColumnRole.Target or ColumnRole.Id ? c with { Required = false, Nullable = true } : c).ToList(),
        };
    }

    /// <summary>
    /// The curated form of each row (curated column name → canonical text, empty for missing), in order; or, when
    /// the contract refuses rows, every failure. Keys that are not contract input columns are ignored.
    /// </summary>
    public (IReadOnlyList<IReadOnlyDictionary<string, string>> Rows, IReadOnlyList<OnlineRowFailure> Failures) Normalize(IReadOnlyList<IReadOnlyDictionary<string, string?>> rows)
    {
        var (curated, failures) = NormalizeToCurated(rows);
        if (curated is null)
        {
            return ([], failures);
        }

        var result = new List<IReadOnlyDictionary<string, string>>(rows.Count);
        using var back = new CsvReader(new MemoryStream(curated), (byte)',', 1 << 20, "normalized rows");
        back.ReadRow();
        var header = Enumerable.Range(0, back.FieldCount).Select(i => Encoding.UTF8.GetString(back[i])).ToList();
        while (back.ReadRow())
        {
            var values = new Dictionary<string, string>(header.Count, StringComparer.Ordinal);
            for (var i = 0; i < header.Count; i++)
            {
                values[header[i]] = i < back.FieldCount ? Encoding.UTF8.GetString(back[i]) : string.Empty;
            }

            result.Add(values);
        }

        return (result, []);
    }

    /// <summary>
    /// Rows that are curated already (no contract to apply), as curated CSV with <paramref name="columns"/> as the
    /// header: null or absent is an empty (missing) cell.
    /// </summary>
    public static byte[] AsCurated(IReadOnlyList<IReadOnlyDictionary<string, string?>> rows, IReadOnlyList<string> columns)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var output = new Utf8CsvWriter(4096 + (rows.Count * 256));
        foreach (var name in columns)
        {
            output.Field(name);
        }

        output.EndRow();
        foreach (var row in rows)
        {
            foreach (var name in columns)
            {
                if (row.GetValueOrDefault(name) is { } value)
                {
                    output.Field(value);
                }
                else
                {
                    output.Empty();
                }
            }

            output.EndRow();
        }

        return output.Written.ToArray();
    }

    /// <summary>
    /// The rows in curated form, as ingest writes a curated part (a header, then one line per row), for
    /// <see cref="Output.CuratedPartReader"/>; or null and every failure when the contract refuses rows.
    /// </summary>
    public (byte[]? Curated, IReadOnlyList<OnlineRowFailure> Failures) NormalizeToCurated(IReadOnlyList<IReadOnlyDictionary<string, string?>> rows)
    {
        ArgumentNullException.ThrowIfNull(rows);
        var given = _contract.Columns.Where(c => c.Role != ColumnRole.Ignore && rows.Any(r => r.ContainsKey(c.Name))).Select(c => c.Name).ToList();
        var input = new Utf8CsvWriter(4096 + (rows.Count * 256));
        foreach (var name in given)
        {
            input.Field(name);
        }

        input.EndRow();
        foreach (var row in rows)
        {
            foreach (var name in given)
            {
                if (row.GetValueOrDefault(name) is { } value)
                {
                    input.Field(value);
                }
                else
                {
                    input.Empty();
                }
            }

            input.EndRow();
        }

        using var reader = new CsvReader(new MemoryStream(input.Written.ToArray()), (byte)',', 1 << 20, "request rows");
        reader.ReadRow();
        var map = HeaderMap.FromHeader(reader, _contract, "request rows");
        var processor = new RowProcessor(_contract, map);
        var formatter = new CuratedRowFormatter(processor);
        var curated = new Utf8CsvWriter(4096 + (rows.Count * 256));
        formatter.WriteHeader(curated);
        var failures = new List<OnlineRowFailure>();
        var number = 0;
        while (reader.ReadRow())
        {
            number++;
            if (processor.Process(reader))
            {
                formatter.WriteRow(curated, reader);
            }
            else
            {
                failures.AddRange(processor.Failures.Select(f => new OnlineRowFailure(
                    number, f.ColumnIndex >= 0 && f.ColumnIndex < _contract.Columns.Count ? _contract.Columns[f.ColumnIndex].Name : "(row)", f.Rule, f.Detail)));
            }
        }

        return failures.Count > 0 ? (null, failures) : (curated.Written.ToArray(), []);
    }
}
