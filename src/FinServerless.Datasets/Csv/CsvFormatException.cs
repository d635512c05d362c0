namespace FinServerless.Datasets.Csv;

/// <summary>A file that cannot be read as CSV at all (as opposed to a row that fails validation).</summary>
public sealed class CsvFormatException(string source, long line, string problem)
    : Exception($"{source}: line {line}: {problem}")
{
    /// <summary>File or blob name.</summary>
    public string FileName { get; } = source;

    /// <summary>Physical line (1-based) where the problem was found.</summary>
    public long Line { get; } = line;

    /// <summary>What is wrong, without the location.</summary>
    public string Problem { get; } = problem;
}
