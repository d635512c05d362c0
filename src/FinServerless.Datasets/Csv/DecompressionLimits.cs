using FinServerless.Datasets.Ingest;

namespace FinServerless.Datasets.Csv;

/// <summary>How far a compressed partner file may expand before it is refused as a decompression bomb.</summary>
/// <param name="MaxDecompressedBytes">Decompressed bytes one file may have in all.</param>
/// <param name="MaxExpansionRatio">Decompressed bytes per compressed byte, judged once <see cref="RatioFloorBytes"/> are decompressed.</param>
public sealed record DecompressionLimits(long MaxDecompressedBytes, double MaxExpansionRatio)
{
    /// <summary>
    /// The ratio is judged only past this many decompressed bytes (1 MiB): a small file's first buffer says
    /// little about its ratio (a header and a few rows can expand far more than 200:1), and a bomb gets no further.
    /// </summary>
    public const long RatioFloorBytes = 1 << 20;

    /// <summary>The defaults of <see cref="IngestOptions"/>.</summary>
    public static DecompressionLimits Default { get; } = new(IngestOptions.DefaultMaxDecompressedBytes, IngestOptions.DefaultMaxExpansionRatio);
}
