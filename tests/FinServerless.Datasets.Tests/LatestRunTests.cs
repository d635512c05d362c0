using System.Text;
using System.Text.Json;
using FinServerless.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Testing;

namespace FinServerless.Datasets.Tests;

/// <summary>Ingest's latest.json pointer: written after each commit, only forwards, safe under concurrent writers.</summary>
public sealed class LatestRunTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fs-latest-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static async Task<IngestOutcome> IngestAsync(IRunOutput output, string run, int skipRows)
    {
        var lines = File.ReadLines(DatasetFiles.TaiwanCsv).ToList();
        var bytes = Encoding.UTF8.GetBytes(string.Join('\n', lines.Take(1).Concat(lines.Skip(1 + skipRows))) + "\n");
        using var input = new MemoryStream(bytes);
        var outcome = await IngestEngine.RunAsync(input, $"{run}.csv", DatasetFiles.TaiwanContract, StorageName.Run(run), output);
        Assert.Equal(IngestState.Curated, outcome.State);
        return outcome;
    }

    private static LatestRunPointer? Pointer(IRunOutput output) =>
        LatestRun.ReadAsync(output, StorageName.Partner("demo"), StorageName.Dataset("taiwan-credit"), default).GetAwaiter().GetResult();

    [Fact]
    public async Task Each_commit_moves_the_pointer_forward_with_the_manifests_SHA256_and_an_older_run_never_moves_it_back()
    {
        var output = new FolderRunOutput(_dir);
        var first = await IngestAsync(output, "r-first", 0);
        Assert.Equal("r-first", Pointer(output)!.RunId);

        var second = await IngestAsync(output, "r-second", 10);
        var pointer = Pointer(output)!;
        Assert.Equal("r-second", pointer.RunId);
        Assert.Equal(second.ManifestPath, pointer.Manifest);
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(Path.Combine(_dir, second.ManifestPath!)))), pointer.ManifestSha256);

        // A run committed with an older time (a slow worker finishing late) leaves the pointer on the newer run.
        var late = first.Manifest! with { RunId = "r-late", CreatedAt = first.Manifest.CreatedAt.AddMinutes(-5), Parts = [] };
        var latePath = StorageLayout.CuratedManifest(StorageName.Partner("demo"), StorageName.Dataset("taiwan-credit"), StorageName.Run("r-late"));
        await output.WriteAsync(latePath, JsonSerializer.SerializeToUtf8Bytes(late, RunManifest.JsonOptions), "application/json", createOnly: true, default);
        await LatestRun.AdvanceAsync(output, late, latePath, default);
        Assert.Equal("r-second", Pointer(output)!.RunId);

        // The same event again changes nothing.
        var before = File.GetLastWriteTimeUtc(Path.Combine(_dir, "curated", "demo", "taiwan-credit", "latest.json"));
        await IngestAsync(output, "r-second", 10);
        Assert.Equal(before, File.GetLastWriteTimeUtc(Path.Combine(_dir, "curated", "demo", "taiwan-credit", "latest.json")));
    }

    [Fact]
    public async Task Concurrent_updates_of_one_blob_each_apply_once_on_what_the_last_wrote()
    {
        IRunOutput output = new BlobRunOutput(azurite.Blobs);
        var path = $"curated/{AzuriteFixture.UniqueName("p")}/counter.json";
        var writers = Enumerable.Range(0, 16).Select(_ => Task.Run(() => output.UpdateAsync(
            path,
            current => Encoding.UTF8.GetBytes(((current is null ? 0 : int.Parse(Encoding.UTF8.GetString(current), System.Globalization.CultureInfo.InvariantCulture)) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture)),
            "text/plain",
            default)));

        Assert.All(await Task.WhenAll(writers), Assert.True);
        Assert.Equal("16", Encoding.UTF8.GetString((await output.ReadAsync(path, default))!));
        Assert.False(await output.UpdateAsync(path, _ => null, "text/plain", default));
    }
}
