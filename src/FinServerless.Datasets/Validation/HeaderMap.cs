using System.Text;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Csv;

namespace FinServerless.Datasets.Validation;

/// <summary>
/// Where each contract column is in the file (matched by name, any order), and what is extra. The header's own
/// text is never repeated in a message or a report: a file without its header row has data there, personal data
/// included. Only the contract's names, positions and counts are.
/// </summary>
public sealed class HeaderMap
{
    /// <summary>How many extra columns' positions are kept (their count is always exact).</summary>
    public const int MaxExtraPositions = 100;

    private HeaderMap(int[] positions, int fieldCount, ExtraColumns extra, IReadOnlyList<string> missingOptional)
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

    /// <summary>File columns that are not in the contract (reported by position, dropped).</summary>
    public ExtraColumns ExtraColumns { get; }

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

        var known = contract.Columns.Select(c => c.Name).ToHashSet(StringComparer.Ordinal);
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var i = 0; i < names.Count; i++)
        {
            if (!seen.TryAdd(names[i], i))
            {
                var which = known.Contains(names[i]) ? $"contract column '{names[i]}' appears" : "the same name (not a contract column) appears";
                throw new FileRejectedException(FileRejectionRules.DuplicateHeader, $"{source}: line {reader.Line}: {which} in columns {seen[names[i]] + 1} and {i + 1} of the header; column names must be unique.");
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

        var extra = Enumerable.Range(0, names.Count).Where(i => !known.Contains(names[i])).ToList();
        if (missingRequired.Count > 0)
        {
            var matched = names.Count - extra.Count;
            var found = $" The header has {names.Count:N0} field(s), {matched:N0} of them named as contract columns.";
            var hint = names.Count == 1
                ? " (Only one column was found: is the delimiter right?)"
                : matched == 0 ? " Is the first line a header row? The contract says the file has one (file.header)." : string.Empty;
            throw new FileRejectedException(FileRejectionRules.MissingColumn, $"{source}: line {reader.Line}: required column(s) {string.Join(", ", missingRequired.Select(n => $"'{n}'"))} missing from the header.{found}{hint}");
        }

        if (extra.Count > 0 && !contract.Rules.AllowExtraColumns)
        {
            throw new FileRejectedException(FileRejectionRules.ExtraColumn, $"{source}: line {reader.Line}: {extra.Count:N0} header column(s) are not in the contract (at position(s) {Listed(extra)}), and the contract does not allow extra columns.");
        }

        return new HeaderMap(positions, names.Count, new ExtraColumns(extra.Count, extra.Take(MaxExtraPositions).Select(i => i + 1).ToList()), missingOptional);
    }

    /// <summary>Without a header, columns are taken in contract order.</summary>
    public static HeaderMap ByPosition(DatasetContract contract) =>
        new(Enumerable.Range(0, contract.Columns.Count).ToArray(), contract.Columns.Count, ExtraColumns.None, []);

    private static string Listed(List<int> indexes) =>
        string.Join(", ", indexes.Take(20).Select(i => (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture))) + (indexes.Count > 20 ? ", …" : string.Empty);
}

/// <summary>
/// Columns of a file that are not in its contract, dropped: how many, and their 1-based positions in the header
/// (the first <see cref="HeaderMap.MaxExtraPositions"/>). Their names are not kept: they are the file's text.
/// </summary>
public sealed record ExtraColumns(int Count, IReadOnlyList<int> Positions)
{
    /// <summary>No extra column.</summary>
    public static ExtraColumns None { get; } = new(0, []);
}
