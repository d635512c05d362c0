using FinServerless.Contracts;
using System.IO.Compression;
using System.Text;
using FinServerless.Datasets.Csv;
using FinServerless.Datasets.Ingest;

namespace FinServerless.Datasets.Tests;

/// <summary>
/// Gzip as partners send it: one member, several concatenated members (<c>cat a.gz b.gz</c>, RFC 1952), and
/// files cut short anywhere in their last member, trailer included.
/// </summary>
public sealed class GzipInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fs-gzip-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Taiwan => File.ReadAllBytes(DatasetFiles.TaiwanCsv);

    internal static byte[] Gzip(ReadOnlySpan<byte> data, CompressionLevel level = CompressionLevel.Optimal)
    {
        var ms = new MemoryStream();
        using (var z = new GZipStream(ms, level, leaveOpen: true))
        {
            z.Write(data);
        }

        return ms.ToArray();
    }

    /// <summary>One gzip member per piece of <paramref name="data"/>, cut at <paramref name="cuts"/>, concatenated.</summary>
    private static byte[] Members(byte[] data, params int[] cuts)
    {
        var bounds = cuts.Prepend(0).Append(data.Length).ToArray();
        return bounds.Zip(bounds.Skip(1)).SelectMany(b => Gzip(data.AsSpan(b.First, b.Second - b.First))).ToArray();
    }

    private static byte[] Decode(byte[] file, int readSize)
    {
        using var decoded = InputDecoder.Open(new MemoryStream(file), "auto", "t.csv.gz");
        var output = new MemoryStream();
        var buffer = new byte[readSize];
        int n;
        while ((n = decoded.Read(buffer, 0, buffer.Length)) > 0)
        {
            output.Write(buffer, 0, n);
        }

        return output.ToArray();
    }

    private async Task<IngestOutcome> IngestAsync(byte[] file, string name)
    {
        // One folder per run: the same curated content in one store would be a duplicate.
        var output = new FolderRunOutput(Path.Combine(_dir, name));
        return await IngestEngine.RunAsync(new MemoryStream(file), name, DatasetFiles.TaiwanContract, StorageName.Run("r-" + name.Replace('.', '-')), output);
    }

    private string PartText(IngestOutcome outcome, string name) =>
        string.Concat(outcome.Manifest!.Parts.Select(p => File.ReadAllText(Path.Combine(_dir, name, p.Path))));

    [Fact]
    public void Concatenated_members_decode_to_every_byte_without_the_end_marker_whatever_the_read_size()
    {
        var text = Taiwan;
        var firstLineEnd = Array.IndexOf(text, (byte)'\n') + 1;
        var file = Members(text, firstLineEnd, firstLineEnd + 1000 + 7, text.Length / 2);

        foreach (var size in new[] { 1, 16, 17, 4096, 1 << 20 })
        {
            Assert.Equal(text, Decode(file, size));
        }

        Assert.Equal(text, Decode(Gzip(text), 4096));
        Assert.Empty(Decode(Gzip([]), 4096));
    }

    [Fact]
    public async Task A_file_of_several_gzip_members_curates_every_row_of_every_member_even_split_mid_row()
    {
        var text = Taiwan;
        var firstLineEnd = Array.IndexOf(text, (byte)'\n') + 1;
        var midRow = firstLineEnd + 12_345;
        Assert.NotEqual((byte)'\n', text[midRow - 1]);

        var plain = await IngestAsync(text, "plain.csv");
        var single = await IngestAsync(Gzip(text), "single.csv.gz");
        // The header alone in the first member; the member boundaries fall inside rows; an empty member between.
        var multi = await IngestAsync(Members(text, firstLineEnd, midRow, midRow, text.Length - 3), "multi.csv.gz");

        Assert.Equal(IngestState.Curated, single.State);
        Assert.Equal(IngestState.Curated, multi.State);
        Assert.Equal(new RowCounts(30_000, 30_000, 0), multi.Manifest!.Rows);
        Assert.Equal(PartText(plain, "plain.csv"), PartText(multi, "multi.csv.gz"));
        Assert.Equal(PartText(plain, "plain.csv"), PartText(single, "single.csv.gz"));
    }

    [Fact]
    public void A_file_cut_anywhere_in_its_last_member_is_refused_as_truncated()
    {
        var text = Encoding.UTF8.GetBytes(string.Join('\n', Encoding.UTF8.GetString(Taiwan).Split('\n').Take(120)) + "\n");
        var first = Gzip(text.AsSpan(0, 4000));
        var last = Gzip(text.AsSpan(4000));
        var file = first.Concat(last).ToArray();
        Assert.Equal(text, Decode(file, 4096));

        // Every cut point: inside the last member's header, its deflate data and its 8-byte trailer.
        for (var cut = first.Length + 1; cut < file.Length; cut++)
        {
            var truncated = file[..cut];
            var error = Record.Exception(() => Decode(truncated, 4096));
            Assert.True(error is InvalidDataException, $"cut at {cut} of {file.Length} ({file.Length - cut} bytes short): {error?.GetType().Name ?? "decoded without error"}");
        }
    }

    [Fact]
    public async Task Truncated_and_trailing_garbage_files_end_rejected_as_corrupt_compression()
    {
        var text = Taiwan;
        var first = Gzip(text.AsSpan(0, 100_000));
        var last = Gzip(text.AsSpan(100_000));
        var file = first.Concat(last).ToArray();
        var cuts = new[] { first.Length + 1, first.Length + 10, first.Length + (last.Length / 3), file.Length - 9, file.Length - 8, file.Length - 5, file.Length - 1 };

        foreach (var cut in cuts)
        {
            var outcome = await IngestAsync(file[..cut], $"cut{cut}.csv.gz");
            Assert.Equal(IngestState.Rejected, outcome.State);
            Assert.Equal("corrupt_compression", outcome.Report!.Rule);
            Assert.Contains($"cut{cut}.csv.gz", outcome.Message);
            Assert.Contains("truncated or corrupt", outcome.Message);
            Assert.Contains("send the file again", outcome.Message);
            Assert.Equal(cut, outcome.Report.Input.Bytes);
        }

        var garbage = await IngestAsync(file.Concat("not gzip"u8.ToArray()).ToArray(), "garbage.csv.gz");
        Assert.Equal("corrupt_compression", garbage.Report!.Rule);
    }

    [Fact]
    public async Task A_tiny_truncated_gzip_is_corrupt_compression_too()
    {
        var file = Gzip("ID,LIMIT_BAL\n1,2\n"u8);

        var outcome = await IngestAsync(file[..^3], "tiny.csv.gz");

        Assert.Equal(IngestState.Rejected, outcome.State);
        Assert.Equal("corrupt_compression", outcome.Report!.Rule);
    }
}
