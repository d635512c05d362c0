namespace FinServerless.Datasets.Csv;

/// <summary>One parsed row: its fields as UTF-8 bytes, where it starts in the file, and whether it is valid UTF-8.</summary>
public interface ICsvRow
{
    /// <summary>Number of fields.</summary>
    int FieldCount { get; }

    /// <summary>Physical line (1-based) where the row starts.</summary>
    long Line { get; }

    /// <summary>Whether the row's bytes are valid UTF-8.</summary>
    bool RowIsValidUtf8 { get; }

    /// <summary>Field <paramref name="index"/>, unquoted.</summary>
    ReadOnlySpan<byte> this[int index] { get; }
}
