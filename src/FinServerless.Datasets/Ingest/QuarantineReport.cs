namespace FinServerless.Datasets.Ingest;

/// <summary>The final state of an ingested file.</summary>
public enum IngestState
{
    /// <summary>Committed to curated storage (possibly with some rows quarantined).</summary>
    Curated,
    /// <summary>The whole file was rejected; nothing was curated.</summary>
    Rejected,
    /// <summary>The same content was already ingested; this file points to that run.</summary>
    Duplicate,
}

/// <summary>One rejected row, for the report's examples: where it is, the rules it broke, and the ids of its id columns that are not PII (no other value).</summary>
public sealed record UnexpectedRow(long Row, long Line, IReadOnlyDictionary<string, string> Ids, IReadOnlyList<string> Failures);

/// <summary>
/// What happened to a file's rejected rows, or why the whole file was rejected:
/// <c>quarantine/{partner}/{dataset}/{runId}/report.json</c>, beside rejected.csv.
/// </summary>
public sealed record QuarantineReport
{
    /// <summary>Run id.</summary>
    public required string RunId { get; init; }

    /// <summary>Partner.</summary>
    public required string Partner { get; init; }

    /// <summary>Dataset.</summary>
    public required string Dataset { get; init; }

    /// <summary>The input file.</summary>
    public required InputFile Input { get; init; }

    /// <summary>Final state of the file.</summary>
    public required IngestState State { get; init; }

    /// <summary>The file-level rule that rejected the file (null when curated).</summary>
    public string? Rule { get; init; }

    /// <summary>A message naming the file, row and column where it applies.</summary>
    public required string Reason { get; init; }

    /// <summary>Contract version.</summary>
    public required string ContractVersion { get; init; }

    /// <summary>Row counts.</summary>
    public required RowCounts Rows { get; init; }

    /// <summary>Accepted rows as a percentage of rows read.</summary>
    public double SuccessPercent { get; init; }

    /// <summary>Failures per rule.</summary>
    public IReadOnlyDictionary<string, long> FailuresByRule { get; init; } = new Dictionary<string, long>();

    /// <summary>Failures per column.</summary>
    public IReadOnlyDictionary<string, long> FailuresByColumn { get; init; } = new Dictionary<string, long>();

    /// <summary>The first rejected rows with their ids.</summary>
    public IReadOnlyList<UnexpectedRow> UnexpectedRows { get; init; } = [];

    /// <summary>Where every rejected row is listed (row, line, column, rule, value).</summary>
    public string? RejectedCsv { get; init; }

    /// <summary>Whether rejected.csv stopped before listing every failure.</summary>
    public bool RejectedCsvTruncated { get; init; }

    /// <summary>File columns not in the contract, dropped: their count and positions (never their names, which are the file's text).</summary>
    public Validation.ExtraColumns ExtraColumns { get; init; } = Validation.ExtraColumns.None;

    /// <summary>Warnings about the accepted rows (for example ids blank or repeated in the file), counts only.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>The curated run this file duplicates or produced.</summary>
    public string? CuratedRun { get; init; }
}
