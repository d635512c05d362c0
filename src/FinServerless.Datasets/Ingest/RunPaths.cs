namespace FinServerless.Datasets.Ingest;

/// <summary>The storage layout of ARCHITECTURE.md §3 for curated runs and quarantine.</summary>
public static class RunPaths
{
    /// <summary>Container holding curated runs.</summary>
    public const string CuratedContainer = "curated";

    /// <summary>Container holding quarantined rows and reports.</summary>
    public const string QuarantineContainer = "quarantine";

    /// <summary>Container holding dataset contracts.</summary>
    public const string ContractsContainer = "contracts";

    /// <summary><c>curated/{partner}/{dataset}/{runId}/</c>.</summary>
    public static string CuratedRun(string partner, string dataset, string runId) => $"{CuratedContainer}/{partner}/{dataset}/{runId}/";

    /// <summary><c>quarantine/{partner}/{dataset}/{runId}/</c>.</summary>
    public static string QuarantineRun(string partner, string dataset, string runId) => $"{QuarantineContainer}/{partner}/{dataset}/{runId}/";

    /// <summary>The content index entry that makes a second copy of the same bytes a duplicate.</summary>
    public static string ContentIndex(string partner, string dataset, string sha256) => $"{CuratedContainer}/{partner}/{dataset}/_content/{sha256}.json";

    /// <summary>A part's file name.</summary>
    public static string Part(int index) => $"part-{index:D5}.csv";
}
