using FinServerless.Datasets.Profiling;

namespace FinServerless.Datasets.Ingest;

/// <summary>Settings of one ingest run.</summary>
public sealed record IngestOptions
{
    /// <summary>A curated part is closed when it reaches this many bytes (memory holds at most two parts).</summary>
    public int PartBytes { get; init; } = 32 * 1024 * 1024;

    /// <summary>rejected.csv lists at most this many failures; the report's counts are always complete.</summary>
    public int MaxRejectedCsvLines { get; init; } = 100_000;

    /// <summary>How many rejected rows the report shows as examples.</summary>
    public int ReportExamples { get; init; } = 20;

    /// <summary>The profile drift is measured against, and where it came from.</summary>
    public (DatasetProfile Profile, string Source)? Reference { get; init; }

    /// <summary>Code version recorded in manifests.</summary>
    public string CodeVersion { get; init; } = typeof(IngestOptions).Assembly.GetName().Version?.ToString() ?? "0";

    /// <summary>Where the contract was read from (recorded in manifests).</summary>
    public string? ContractPath { get; init; }

    /// <summary>Threads that validate and format rows (a separate thread reads). Default: the processor count, at most 4.</summary>
    public int Workers { get; init; } = Math.Clamp(Environment.ProcessorCount, 1, 4);

    /// <summary>Rows are read and handed to workers in blocks of about this many bytes (smaller in tests).</summary>
    internal int BlockBytes { get; init; } = 1 << 20;

    /// <summary>Progress callback: rows read so far (about every million rows).</summary>
    public Action<long>? Progress { get; init; }
}

/// <summary>The result of ingesting one file.</summary>
public sealed record IngestOutcome(IngestState State, string RunId, string Message, RunManifest? Manifest, QuarantineReport? Report, string? ManifestPath, string? ReportPath);
