using FinServerless.Contracts;
using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Csv;
using FinServerless.Datasets.Ingest;
using FinServerless.Datasets.Validation;

namespace FinServerless.Datasets.Tests;

/// <summary>Memory is measured in these tests, so they run alone, after the parallel ones.</summary>
[CollectionDefinition(nameof(MeasuresMemory), DisableParallelization = true)]
public sealed class MeasuresMemory;

/// <summary>Gzip bombs and limits: a file that would expand without bound is refused early, in bounded memory.</summary>
[Collection(nameof(MeasuresMemory))]
public sealed class DecompressionLimitTests : IDisposable
{
    private const string BombContract = """
        {
          "contractVersion": "1.0.0", "partner": "acme", "dataset": "bomb",
          "rules": { "minRows": 1, "maxRejectedShare": 1 },
          "columns": [
            { "name": "id", "type": "integer", "role": "id" },
            { "name": "amount", "type": "float" }
          ]
        }
        """;

    private const long MemberBytes = 16L << 20;

    // 16 MiB of one repeated row, compressed once (about 16 KB); the bomb repeats it as gzip members.
    private static readonly Lazy<byte[]> RowsMember = new(() =>
    {
        var row = "7,2.5\n"u8.ToArray();
        var rows = new byte[MemberBytes];
        for (var i = 0; i + row.Length <= rows.Length; i += row.Length)
        {
            row.CopyTo(rows, i);
        }

        rows.AsSpan((int)(MemberBytes - (MemberBytes % row.Length))).Fill((byte)'\n');
        return GzipInputTests.Gzip(rows, CompressionLevel.SmallestSize);
    });

    private readonly string _dir = Directory.CreateTempSubdirectory("fs-bomb-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static DatasetContract Contract => DatasetContract.Parse(Encoding.UTF8.GetBytes(BombContract), "contracts/acme/bomb.json");

    /// <summary>A header member, then <paramref name="members"/> times the rows member: 4 GiB from about 4 MB for 256.</summary>
    private sealed class BombStream(int members) : ReadOnlyStream
    {
        private readonly byte[] _header = GzipInputTests.Gzip("id,amount\n"u8);
        private long _position;

        public long CompressedLength => _header.Length + ((long)members * RowsMember.Value.Length);

        public long DecompressedLength => 10 + (members * MemberBytes);

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_position >= CompressedLength)
            {
                return 0;
            }

            byte[] source;
            long at;
            if (_position < _header.Length)
            {
                (source, at) = (_header, _position);
            }
            else
            {
                (source, at) = (RowsMember.Value, (_position - _header.Length) % RowsMember.Value.Length);
            }

            var n = (int)Math.Min(count, source.Length - at);
            source.AsSpan((int)at, n).CopyTo(buffer.AsSpan(offset));
            _position += n;
            return n;
        }
    }

    /// <summary>Keeps what a run writes, except curated parts (counted, not kept: they would be gigabytes).</summary>
    private sealed class MemoryRunOutput : IRunOutput
    {
        public Dictionary<string, byte[]> Objects { get; } = [];

        public long PartBytes { get; private set; }

        public Task<bool> WriteAsync(string path, ReadOnlyMemory<byte> content, string contentType, bool createOnly, CancellationToken cancellationToken)
        {
            lock (Objects)
            {
                if (createOnly && Objects.ContainsKey(path))
                {
                    return Task.FromResult(false);
                }

                if (path.EndsWith(".csv", StringComparison.Ordinal) && path.StartsWith("curated/", StringComparison.Ordinal))
                {
                    PartBytes += content.Length;
                    content = ReadOnlyMemory<byte>.Empty;
                }

                Objects[path] = content.ToArray();
                return Task.FromResult(true);
            }
        }

        public Task<byte[]?> ReadAsync(string path, CancellationToken cancellationToken)
        {
            lock (Objects)
            {
                return Task.FromResult(Objects.GetValueOrDefault(path));
            }
        }

        public Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken)
        {
            lock (Objects)
            {
                foreach (var key in Objects.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToList())
                {
                    Objects.Remove(key);
                }
            }

            return Task.CompletedTask;
        }

        public string Describe(string path) => "memory:" + path;
    }

    private static async Task<(IngestOutcome Outcome, long AllocatedBytes, long PeakGrowth)> MeasureAsync(Stream input, IngestOptions options, IRunOutput output)
    {
        _ = RowsMember.Value;
        GC.Collect();
        using var process = Process.GetCurrentProcess();
        var peakBefore = process.PeakWorkingSet64;
        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);

        var outcome = await IngestEngine.RunAsync(input, "inbox-acme/bomb/bomb.csv.gz", Contract, StorageName.Run("r-bomb"), output, options);

        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        process.Refresh();
        return (outcome, allocated, process.PeakWorkingSet64 - peakBefore);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_gzip_bomb_is_refused_by_its_expansion_ratio_after_a_few_MiB_in_bounded_memory()
    {
        var bomb = new BombStream(members: 256);
        Assert.True(bomb.DecompressedLength > 4L << 30, "the bomb expands to over 4 GiB");
        Assert.True(bomb.CompressedLength < 8 << 20, $"the bomb is {bomb.CompressedLength:N0} bytes compressed");

        var (outcome, allocated, peakGrowth) = await MeasureAsync(bomb, new IngestOptions(), new MemoryRunOutput());

        Assert.Equal(IngestState.Rejected, outcome.State);
        Assert.Equal("decompression_limit", outcome.Report!.Rule);
        Assert.Contains("inbox-acme/bomb/bomb.csv.gz", outcome.Message);
        Assert.Contains("200:1", outcome.Message);
        Assert.Contains("MaxExpansionRatio", outcome.Message);
        Assert.Contains(IngestSettings.MaxExpansionRatio, outcome.Message);
        Assert.Equal(bomb.CompressedLength, outcome.Report.Input.Bytes);
        Assert.True(allocated < 200_000_000, $"allocated {allocated:N0} bytes");
        Assert.True(peakGrowth < 200_000_000, $"peak working set grew {peakGrowth:N0} bytes");
    }

    [Fact(Timeout = 300_000)]
    public async Task A_bomb_within_the_ratio_is_stopped_at_MaxDecompressedBytes_in_bounded_memory()
    {
        // The ratio lifted: the size limit alone stops it, after 256 MiB of rows (more than the memory bound).
        var bomb = new BombStream(members: 256);
        var output = new MemoryRunOutput();
        var options = new IngestOptions { MaxExpansionRatio = 1e9, MaxDecompressedBytes = 256L << 20 };

        var (outcome, allocated, peakGrowth) = await MeasureAsync(bomb, options, output);

        Assert.Equal(IngestState.Rejected, outcome.State);
        Assert.Equal("decompression_limit", outcome.Report!.Rule);
        Assert.Contains("more than 268,435,456 bytes", outcome.Message);
        Assert.Contains("MaxDecompressedBytes", outcome.Message);
        Assert.Contains(IngestSettings.MaxDecompressedBytes, outcome.Message);
        Assert.True(output.PartBytes > 128L << 20, $"rows were curated up to the limit ({output.PartBytes:N0} bytes of parts)");
        Assert.DoesNotContain(output.Objects.Keys, k => k.StartsWith("curated/", StringComparison.Ordinal));
        Assert.True(allocated < 200_000_000, $"allocated {allocated:N0} bytes");
        Assert.True(peakGrowth < 200_000_000, $"peak working set grew {peakGrowth:N0} bytes");
    }

    [Fact]
    public void The_decoder_stops_inflating_a_bomb_within_a_few_MiB_of_the_ratio_floor()
    {
        using var decoded = InputDecoder.Open(new BombStream(members: 256), "auto", "bomb.csv.gz");
        var buffer = new byte[1 << 20];
        long total = 0;

        var error = Assert.Throws<FileRejectedException>(() =>
        {
            int n;
            while ((n = decoded.Read(buffer, 0, buffer.Length)) > 0)
            {
                total += n;
            }
        });

        Assert.Equal("decompression_limit", error.Rule);
        Assert.Contains("bomb.csv.gz", error.Message);
        Assert.InRange(total, DecompressionLimits.RatioFloorBytes - buffer.Length, DecompressionLimits.RatioFloorBytes + (2 << 20));
    }

    [Fact]
    public async Task An_ordinary_file_over_a_lowered_MaxDecompressedBytes_is_rejected_and_one_at_the_limit_is_curated()
    {
        var text = File.ReadAllBytes(DatasetFiles.TaiwanCsv);
        var gz = GzipInputTests.Gzip(text);

        var over = await IngestEngine.RunAsync(new MemoryStream(gz), "over.csv.gz", DatasetFiles.TaiwanContract, StorageName.Run("r-over"), new FolderRunOutput(Path.Combine(_dir, "over")),
            new IngestOptions { MaxDecompressedBytes = 1 << 20 });
        var exact = await IngestEngine.RunAsync(new MemoryStream(gz), "exact.csv.gz", DatasetFiles.TaiwanContract, StorageName.Run("r-exact"), new FolderRunOutput(Path.Combine(_dir, "exact")),
            new IngestOptions { MaxDecompressedBytes = text.Length });

        Assert.Equal(IngestState.Rejected, over.State);
        Assert.Equal("decompression_limit", over.Report!.Rule);
        Assert.Contains("over.csv.gz", over.Message);
        Assert.Contains("more than 1,048,576 bytes", over.Message);
        Assert.Contains("IngestOptions.MaxDecompressedBytes", over.Message);
        Assert.Contains("FINSERVERLESS_INGEST_MAX_DECOMPRESSED_BYTES", over.Message);
        Assert.False(Directory.Exists(Path.Combine(_dir, "over", "curated", "demo", "taiwan-credit", "r-over")), "nothing curated");
        Assert.Equal(IngestState.Curated, exact.State);
        Assert.Equal(30_000, exact.Manifest!.Rows.Accepted);
    }

    [Fact]
    public async Task A_small_file_that_compresses_far_beyond_the_ratio_is_judged_only_past_the_floor()
    {
        // About 900 KB of identical rows: well over 200:1, but under the 1 MiB floor, so it is curated.
        var csv = "id,amount\n" + string.Concat(Enumerable.Repeat("7,2.5\n", 150_000));
        var gz = GzipInputTests.Gzip(Encoding.UTF8.GetBytes(csv), CompressionLevel.SmallestSize);
        Assert.True(csv.Length > 200 * gz.Length, $"{csv.Length:N0} bytes from {gz.Length:N0}");
        Assert.True(csv.Length < DecompressionLimits.RatioFloorBytes);

        var outcome = await IngestEngine.RunAsync(new MemoryStream(gz), "dense.csv.gz", Contract, StorageName.Run("r-dense"), new FolderRunOutput(_dir));

        Assert.Equal(IngestState.Curated, outcome.State);
        Assert.Equal(150_000, outcome.Manifest!.Rows.Accepted);
    }
}
