using FinServerless.Contracts;
using FinServerless.Datasets.Ingest;

namespace FinServerless.Datasets.Tests;

public sealed class ExactlyOnceTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fs-once-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task The_same_event_twice_yields_one_run_and_the_second_does_nothing()
    {
        var output = new FolderRunOutput(_dir);
        var runId = IngestEngine.RunIdFor("inbox-demo/taiwan-credit/a.csv@0x8DC1", DatasetFiles.TaiwanContract);

        await using var first = File.OpenRead(DatasetFiles.TaiwanCsv);
        var one = await IngestEngine.RunAsync(first, "a.csv", DatasetFiles.TaiwanContract, runId, output);
        var manifest = File.GetLastWriteTimeUtc(Path.Combine(_dir, one.ManifestPath!));
        await using var again = File.OpenRead(DatasetFiles.TaiwanCsv);
        var two = await IngestEngine.RunAsync(again, "a.csv", DatasetFiles.TaiwanContract, runId, output);

        Assert.Equal(IngestState.Curated, two.State);
        Assert.Contains("already ingested", two.Message);
        Assert.Equal(manifest, File.GetLastWriteTimeUtc(Path.Combine(_dir, one.ManifestPath!)));
        Assert.Single(Directory.GetDirectories(Path.Combine(_dir, "curated", "demo", "taiwan-credit")), d => !d.EndsWith("_content", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_same_content_under_another_name_is_a_duplicate_pointing_to_the_first_run()
    {
        var output = new FolderRunOutput(_dir);
        await using var first = File.OpenRead(DatasetFiles.TaiwanCsv);
        var one = await IngestEngine.RunAsync(first, "monday.csv", DatasetFiles.TaiwanContract, StorageName.Run("r-monday"), output);
        await using var second = File.OpenRead(DatasetFiles.TaiwanCsv);
        var two = await IngestEngine.RunAsync(second, "monday-again.csv", DatasetFiles.TaiwanContract, StorageName.Run("r-monday-again"), output);

        Assert.Equal(IngestState.Duplicate, two.State);
        Assert.Contains("r-monday", two.Message);
        Assert.Equal("curated/demo/taiwan-credit/r-monday/", two.Report!.CuratedRun);
        Assert.False(Directory.Exists(Path.Combine(_dir, "curated", "demo", "taiwan-credit", "r-monday-again")));
        Assert.Equal(IngestState.Curated, one.State);
    }

    [Fact]
    public async Task A_crash_mid_file_leaves_no_manifest_and_the_retry_completes_the_run()
    {
        var output = new FolderRunOutput(_dir);
        var options = new IngestOptions { PartBytes = 256 * 1024 };
        var bytes = await File.ReadAllBytesAsync(DatasetFiles.TaiwanCsv);

        var crash = await Assert.ThrowsAsync<IOException>(() =>
            IngestEngine.RunAsync(new FailingStream(bytes, failAfter: bytes.Length / 2), "a.csv", DatasetFiles.TaiwanContract, StorageName.Run("r-crash"), output, options));
        var runDir = Path.Combine(_dir, "curated", "demo", "taiwan-credit", "r-crash");
        Assert.False(File.Exists(Path.Combine(runDir, "_manifest.json")));
        Assert.NotEmpty(Directory.GetFiles(runDir, "part-*.csv"));

        var retry = await IngestEngine.RunAsync(new MemoryStream(bytes), "a.csv", DatasetFiles.TaiwanContract, StorageName.Run("r-crash"), output, options);

        Assert.Equal(IngestState.Curated, retry.State);
        Assert.Equal(30_000, retry.Manifest!.Rows.Accepted);
        Assert.Equal(30_000, retry.Manifest.Parts.Sum(p => p.Rows));
        Assert.Equal(retry.Manifest.Parts.Count, Directory.GetFiles(runDir, "part-*.csv").Length);
        var curatedRows = retry.Manifest.Parts.Sum(p => File.ReadLines(Path.Combine(_dir, p.Path)).Count() - 1);
        Assert.Equal(30_000, curatedRows);
        Assert.Contains("connection reset", crash.Message);
    }

    private sealed class FailingStream(byte[] data, int failAfter) : MemoryStream(data)
    {
        public override int Read(byte[] buffer, int offset, int count)
        {
            if (Position >= failAfter)
            {
                throw new IOException("connection reset by peer (simulated crash)");
            }

            return base.Read(buffer, offset, (int)Math.Min(count, failAfter - Position));
        }

        public override int Read(Span<byte> buffer)
        {
            if (Position >= failAfter)
            {
                throw new IOException("connection reset by peer (simulated crash)");
            }

            return base.Read(buffer[..(int)Math.Min(buffer.Length, failAfter - Position)]);
        }
    }
}
