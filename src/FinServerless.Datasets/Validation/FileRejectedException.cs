namespace FinServerless.Datasets.Validation;

/// <summary>The whole file is rejected (missing column, unreadable, too many bad rows…), with the rule and a message naming the file.</summary>
public sealed class FileRejectedException(string rule, string message) : Exception(message)
{
    /// <summary>Short name of the file-level rule, for reports.</summary>
    public string Rule { get; } = rule;
}

/// <summary>Rules a whole file can break; their names appear in report.json.</summary>
public static class FileRejectionRules
{
    /// <summary>The file has no header row and no data.</summary>
    public const string EmptyFile = "empty_file";
    /// <summary>Fewer data rows than the contract's minimum.</summary>
    public const string MinRows = "min_rows";
    /// <summary>More data rows than <c>IngestOptions.MaxRows</c>.</summary>
    public const string MaxRows = "max_rows";
    /// <summary>A larger share of rows failed validation than the contract allows.</summary>
    public const string MaxRejectedShare = "max_rejected_share";
    /// <summary>The file cannot be read as CSV (unterminated quote, row over the limit, UTF-16, binary…).</summary>
    public const string Malformed = "malformed";
    /// <summary>The gzip data is truncated or corrupt.</summary>
    public const string CorruptCompression = "corrupt_compression";
    /// <summary>The file decompresses past <c>IngestOptions.MaxDecompressedBytes</c> or <c>MaxExpansionRatio</c>.</summary>
    public const string DecompressionLimit = "decompression_limit";
    /// <summary>Two header fields have the same name.</summary>
    public const string DuplicateHeader = "duplicate_header";
    /// <summary>A required contract column is not in the header.</summary>
    public const string MissingColumn = "missing_column";
    /// <summary>The header has columns the contract does not allow.</summary>
    public const string ExtraColumn = "extra_column";
    /// <summary>The same bytes were already ingested.</summary>
    public const string DuplicateContent = "duplicate_content";
}
