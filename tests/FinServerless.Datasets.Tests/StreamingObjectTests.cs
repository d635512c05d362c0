using FinServerless.Datasets.Ingest;
using FinServerless.Testing;

namespace FinServerless.Datasets.Tests;

/// <summary>
/// Streaming reads and writes of the platform's two stores (a real Azurite and a local folder): an object written as a
/// stream appears whole on commit and not at all before it, an abandoned writer leaves the previous object, and
/// objects larger than one block round-trip byte for byte.
/// </summary>
public sealed class StreamingObjectTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fs-streaming-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string> Stores => ["blob", "folder"];

    private IRunOutput Store(string kind) => kind == "blob" ? new BlobRunOutput(azurite.Blobs) : new FolderRunOutput(_dir);

    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static async Task<byte[]?> ReadStreamedAsync(IRunOutput store, string path)
    {
        await using var stream = await store.OpenReadAsync(path, default);
        if (stream is null)
        {
            return null;
        }

        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task An_object_written_in_pieces_across_several_blocks_appears_whole_only_on_commit(string kind)
    {
        var store = Store(kind);
        var path = $"{AzuriteFixture.UniqueName("scores")}/p/d/r/part-00000.csv";
        var content = Bytes((BlobRunOutput.ReadBlockBytes * 2) + 12_345, seed: 1);

        await using (var writer = await store.OpenWriteAsync(path, "text/csv", default))
        {
            // Pieces of uneven sizes, one of them larger than a block.
            var offsets = new[] { 0, 7, 100_000, 100_001, (BlobRunOutput.ReadBlockBytes * 2) - 3, content.Length };
            for (var i = 0; i + 1 < offsets.Length; i++)
            {
                await writer.WriteAsync(content.AsMemory(offsets[i], offsets[i + 1] - offsets[i]), default);
                Assert.Null(await store.ReadAsync(path, default));
            }

            Assert.Equal(content.Length, writer.Length);
            await writer.CommitAsync(default);
        }

        Assert.Equal(content, await store.ReadAsync(path, default));
        Assert.Equal(content, await ReadStreamedAsync(store, path));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task A_writer_left_uncommitted_leaves_the_previous_object_and_a_committed_one_replaces_it(string kind)
    {
        var store = Store(kind);
        var path = $"{AzuriteFixture.UniqueName("scores")}/p/d/r/part-00001.csv";
        var before = Bytes(1_000, seed: 2);
        Assert.True(await store.WriteAsync(path, before, "text/csv", createOnly: false, default));

        await using (var abandoned = await store.OpenWriteAsync(path, "text/csv", default))
        {
            await abandoned.WriteAsync(Bytes(BlobRunOutput.ReadBlockBytes + 5, seed: 3), default);
        }

        Assert.Equal(before, await store.ReadAsync(path, default));
        if (kind == "folder")
        {
            Assert.Single(Directory.GetFiles(Path.GetDirectoryName(Path.Combine(_dir, path))!));
        }

        var after = Bytes(50, seed: 4);
        await using (var writer = await store.OpenWriteAsync(path, "text/csv", default))
        {
            await writer.WriteAsync(after, default);
            await writer.CommitAsync(default);
            await Assert.ThrowsAsync<ObjectDisposedException>(() => writer.WriteAsync(after, default));
        }

        Assert.Equal(after, await store.ReadAsync(path, default));
    }

    [Theory]
    [MemberData(nameof(Stores))]
    public async Task An_empty_object_commits_and_an_absent_one_opens_as_null(string kind)
    {
        var store = Store(kind);
        var path = $"{AzuriteFixture.UniqueName("scores")}/p/d/r/empty.csv";
        Assert.Null(await store.OpenReadAsync(path, default));

        await using (var writer = await store.OpenWriteAsync(path, "text/csv", default))
        {
            await writer.CommitAsync(default);
        }

        var read = await ReadStreamedAsync(store, path);
        Assert.NotNull(read);
        Assert.Empty(read);
    }
}
