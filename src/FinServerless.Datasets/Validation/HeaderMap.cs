using System.Text;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Csv;

namespace FinServerless.Datasets.Validation;

/// <summary>Where each contract column is in the file (matched by name, any order), and what is extra.</summary>
public sealed class HeaderMap
{
    private HeaderMap(int[] positions, int fieldCount, IReadOnlyList<string> extra, IReadOnlyList<string> missingOptional)
    {
        Positions = positions;
        FieldCount = fieldCount;
        ExtraColumns = extra;
        MissingOptionalColumns = missingOptional;
    }

    /// <summary>For each contract column, its field index in the file, or -1 when absent (optional columns only).</summary>
    public int[] Positions { get; }

    /// <summary>Fields every row must have.</summary>
    public int FieldCount { get; }

    /// <summary>File columns that are not in the contract (reported, dropped).</summary>
    public IReadOnlyList<string> ExtraColumns { get; }

    /// <summary>Optional contract columns the file lacks.</summary>
    public IReadOnlyList<string> MissingOptionalColumns { get; }

    /// <summary>Maps the header row; throws <see cref="FileRejectedException"/> when the file cannot satisfy the contract.</summary>
    public static HeaderMap FromHeader(CsvReader reader, DatasetContract contract, string source)
    {
        var names = new List<string>(reader.FieldCount);
        for (var i = 0; i < reader.FieldCount; i++)
        {
            names.Add(Encoding.UTF8.GetString(reader[i]).Trim());
        }

        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < names.Count; i++)
        {
            if (!seen.TryAdd(names[i], i))
            {
                throw new FileRejectedException("duplicate_header", $"{source}: line {reader.Line}: header name '{names[i]}' appears in columns {seen[names[i]] + 1} and {i + 1}; column names must be unique.");
            }
        }

        var positions = new int[contract.Columns.Count];
        var missingRequired = new List<string>();
        var missingOptional = new List<string>();
        for (var c = 0; c < contract.Columns.Count; c++)
        {
            var col = contract.Columns[c];
            positions[c] = seen.TryGetValue(col.Name, out var at) ? at : -1;
            if (positions[c] < 0)
            {
                (col.Required ? missingRequired : missingOptional).Add(col.Name);
            }
        }

        if (missingRequired.Count > 0)
        {
            var closest = names.Count > 0 ? $" The file's header has: {string.Join(", ", names.Select(n => $"'{n}'"))}." : string.Empty;
            throw new FileRejectedException("missing_column", $"{source}: line {reader.Line}: required column(s) {string.Join(", ", missingRequired.Select(n => $"'{n}'"))} missing from the header.{(names.Count == 1 ? " (Only one column was found: is the delimiter right?)" : string.Empty)}{closest}");
        }

        var known = contract.Columns.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var extra = names.Where(n => !known.Contains(n)).ToList();
        if (extra.Count > 0 && !contract.Rules.AllowExtraColumns)
        {
            throw new FileRejectedException("extra_column", $"{source}: line {reader.Line}: column(s) {string.Join(", ", extra.Select(n => $"'{n}'"))} are not in the contract, and the contract does not allow extra columns.");
        }

        return new HeaderMap(positions, names.Count, extra, missingOptional);
    }

    /// <summary>Without a header, columns are taken in contract order.</summary>
    public static HeaderMap ByPosition(DatasetContract contract) =>
        new(Enumerable.Range(0, contract.Columns.Count).ToArray(), contract.Columns.Count, [], []);
}
