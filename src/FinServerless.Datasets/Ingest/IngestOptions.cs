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

    /// <summary>Default of <see cref="MaxDecompressedBytes"/>: 50 GiB.</summary>
    public const long DefaultMaxDecompressedBytes = 50L << 30;

    /// <summary>Default of <see cref="MaxExpansionRatio"/>: 200 decompressed bytes per compressed byte.</summary>
    public const double DefaultMaxExpansionRatio = 200;

    /// <summary>Default of <see cref="MaxRows"/>: 100 million data rows.</summary>
    public const long DefaultMaxRows = 100_000_000;

    /// <summary>
    /// A compressed file that decompresses to more bytes than this is rejected (rule <c>decompression_limit</c>)
    /// as soon as it crosses it. Setting <see cref="IngestSettings.MaxDecompressedBytes"/>.
    /// </summary>
    public long MaxDecompressedBytes
    {
        get;
        init => field = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(MaxDecompressedBytes), value,
            $"MaxDecompressedBytes (setting {IngestSettings.MaxDecompressedBytes}) must be a positive number of bytes.");
    } = DefaultMaxDecompressedBytes;

    /// <summary>
    /// A compressed file whose decompressed bytes exceed this many times the compressed bytes read so far is
    /// rejected as a decompression bomb (rule <c>decompression_limit</c>); judged only once 1 MiB is decompressed
    /// (<see cref="Csv.DecompressionLimits.RatioFloorBytes"/>). Setting <see cref="IngestSettings.MaxExpansionRatio"/>.
    /// </summary>
    public double MaxExpansionRatio
    {
        get;
        init => field = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(MaxExpansionRatio), value,
            $"MaxExpansionRatio (setting {IngestSettings.MaxExpansionRatio}) must be at least 1 (decompressed bytes per compressed byte).");
    } = DefaultMaxExpansionRatio;

    /// <summary>A file with more data rows than this is rejected (rule <c>max_rows</c>). Setting <see cref="IngestSettings.MaxRows"/>.</summary>
    public long MaxRows
    {
        get;
        init => field = value > 0 ? value : throw new ArgumentOutOfRangeException(nameof(MaxRows), value,
            $"MaxRows (setting {IngestSettings.MaxRows}) must be a positive number of rows.");
    } = DefaultMaxRows;

    /// <summary>The decompression limits, for <see cref="Csv.InputDecoder"/>.</summary>
    internal Csv.DecompressionLimits DecompressionLimits => new(MaxDecompressedBytes, MaxExpansionRatio);
}

/// <summary>
/// The settings (app settings, environment variables) that hosts map onto <see cref="IngestOptions"/>: the
/// function app and the CLI read them with <see cref="Apply"/>.
/// </summary>
public static class IngestSettings
{
    /// <summary><see cref="IngestOptions.MaxDecompressedBytes"/>, in bytes (default 50 GiB).</summary>
    public const string MaxDecompressedBytes = "FINSERVERLESS_INGEST_MAX_DECOMPRESSED_BYTES";

    /// <summary><see cref="IngestOptions.MaxExpansionRatio"/>, decompressed bytes per compressed byte (default 200).</summary>
    public const string MaxExpansionRatio = "FINSERVERLESS_INGEST_MAX_EXPANSION_RATIO";

    /// <summary><see cref="IngestOptions.MaxRows"/>, data rows per file (default 100,000,000).</summary>
    public const string MaxRows = "FINSERVERLESS_INGEST_MAX_ROWS";

    /// <summary><see cref="IngestOptions.PartBytes"/>, bytes per curated part: the unit of parallel scoring (default 32 MiB, at least 64 KiB).</summary>
    public const string PartBytes = "FINSERVERLESS_INGEST_PART_BYTES";

    /// <summary>
    /// Returns <paramref name="options"/> with the limits that <paramref name="read"/> finds set (for example
    /// <c>Environment.GetEnvironmentVariable</c>); unset or empty ones keep their value. A value that is not a
    /// positive number throws <see cref="ArgumentException"/> naming the setting.
    /// </summary>
    public static IngestOptions Apply(IngestOptions options, Func<string, string?> read)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(read);
        if (Whole(read, MaxDecompressedBytes, "a whole number of bytes") is { } bytes)
        {
            options = options with { MaxDecompressedBytes = bytes };
        }

        if (read(MaxExpansionRatio) is { Length: > 0 } ratioText)
        {
            if (!double.TryParse(ratioText, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var ratio) || !(ratio >= 1) || double.IsInfinity(ratio))
            {
                throw new ArgumentException($"Setting {MaxExpansionRatio} is '{ratioText}'; it must be a number of at least 1 (decompressed bytes per compressed byte, for example 200).");
            }

            options = options with { MaxExpansionRatio = ratio };
        }

        if (Whole(read, MaxRows, "a whole number of rows") is { } rows)
        {
            options = options with { MaxRows = rows };
        }

        if (Whole(read, PartBytes, "a whole number of bytes") is { } partBytes)
        {
            options = options with
            {
                PartBytes = partBytes is >= 64 * 1024 and <= 64L * 1024 * 1024
                    ? (int)partBytes
                    : throw new ArgumentException($"Setting {PartBytes} is '{partBytes}'; it must be from 65536 (64 KiB) to 67108864 (64 MiB) bytes per curated part."),

                // A part closes at a block boundary: blocks no larger than half a part keep parts near the size asked for.
                BlockBytes = (int)Math.Min(options.BlockBytes, partBytes / 2),
            };
        }

        return options;
    }

    private static long? Whole(Func<string, string?> read, string name, string what)
    {
        if (read(name) is not { Length: > 0 } text)
        {
            return null;
        }

        if (!long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var value) || value <= 0)
        {
            throw new ArgumentException($"Setting {name} is '{text}'; it must be {what}, greater than zero.");
        }

        return value;
    }
}

/// <summary>The result of ingesting one file.</summary>
public sealed record IngestOutcome(IngestState State, string RunId, string Message, RunManifest? Manifest, QuarantineReport? Report, string? ManifestPath, string? ReportPath);
