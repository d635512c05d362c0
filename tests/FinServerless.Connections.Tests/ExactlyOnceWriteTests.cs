using Azure;
using Azure.Storage.Blobs.Models;
using FinServerless.Connections;
using FinServerless.Testing;

namespace FinServerless.Connections.Tests;

/// <summary>
/// Create-only and If-Match writes through lost answers. Faults that never reach the service (503 from the proxy,
/// dropped connections) are safe to retry and the SDK alone stays exactly-once. A cut response is different: the
/// service committed the write, the SDK retries, and the retry trips over the write itself.
/// </summary>
public sealed class ExactlyOnceWriteTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private async Task<string> NewContainerAsync()
    {
        var name = AzuriteFixture.UniqueName("once");
        await azurite.Blobs.GetBlobContainerClient(name).CreateIfNotExistsAsync();
        return name;
    }

    [Fact]
    public async Task The_SDK_alone_reports_a_create_only_write_whose_answer_was_lost_as_a_409_although_it_won()
    {
        var name = await NewContainerAsync();
        await using var proxy = new FaultProxy(azurite.Server.BlobEndpoint.Port, FaultPlan.None);
        var blob = Through.LostFirstAnswer(azurite, proxy, name, "_manifest.json");

        var error = await Assert.ThrowsAsync<RequestFailedException>(() =>
            blob.UploadAsync(new BinaryData("ours"u8.ToArray()), new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } }));

        // This is why ConditionalBlobWrites exists: the "lost race" is our own committed write.
        Assert.Equal(409, error.Status);
        Assert.Equal("BlobAlreadyExists", error.ErrorCode);
        Assert.Equal(1, proxy.Injected.Cut);
        Assert.Equal("ours", (await azurite.Blobs.GetBlobContainerClient(name).GetBlobClient("_manifest.json").DownloadContentAsync()).Value.Content.ToString());
    }

    [Fact]
    public async Task A_create_only_write_whose_answer_was_lost_is_reported_as_written_once()
    {
        var name = await NewContainerAsync();
        await using var proxy = new FaultProxy(azurite.Server.BlobEndpoint.Port, FaultPlan.None);
        var blob = Through.LostFirstAnswer(azurite, proxy, name, "_manifest.json");

        var etag = await ConditionalBlobWrites.CreateOnlyAsync(blob, new BinaryData("ours"u8.ToArray()));
        var stored = await azurite.Blobs.GetBlobContainerClient(name).GetBlobClient("_manifest.json").GetPropertiesAsync();

        Assert.Equal(1, proxy.Injected.Cut);
        Assert.Equal(stored.Value.ETag, etag);
        Assert.True(stored.Value.Metadata.ContainsKey(ConditionalBlobWrites.WriteIdKey));
    }

    [Fact]
    public async Task An_If_Match_write_whose_answer_was_lost_is_reported_as_written_and_a_stale_one_still_fails()
    {
        var name = await NewContainerAsync();
        var direct = azurite.Blobs.GetBlobContainerClient(name).GetBlobClient("champion.json");
        var v1 = (await direct.UploadAsync(new BinaryData("v1"u8.ToArray()))).Value.ETag;
        await using var proxy = new FaultProxy(azurite.Server.BlobEndpoint.Port, FaultPlan.None);
        var blob = Through.LostFirstAnswer(azurite, proxy, name, "champion.json");

        var v2 = await ConditionalBlobWrites.ReplaceIfMatchAsync(blob, new BinaryData("v2"u8.ToArray()), v1);
        var stale = await Assert.ThrowsAsync<RequestFailedException>(() => ConditionalBlobWrites.ReplaceIfMatchAsync(direct, new BinaryData("v3"u8.ToArray()), v1));

        Assert.Equal(1, proxy.Injected.Cut);
        Assert.Equal(412, stale.Status);
        Assert.Equal(v2, (await direct.GetPropertiesAsync()).Value.ETag);
        Assert.Equal("v2", (await direct.DownloadContentAsync()).Value.Content.ToString());
    }

    [Fact(Timeout = 300_000)]
    public async Task Create_only_writes_through_503s_drops_and_cut_answers_are_each_written_once_and_a_second_writer_still_loses()
    {
        var name = await NewContainerAsync();
        await using var proxy = new FaultProxy(azurite.Server.BlobEndpoint.Port, new FaultPlan
        {
            Reply503 = 0.2,
            Drop = 0.2,
            CutAfterBytesMin = 200,
            CutAfterBytesMax = 2500,
        }, seed: 7);
        var container = Through.Proxy(azurite, proxy).CreateBlobServiceClient().GetBlobContainerClient(name);
        var names = Enumerable.Range(0, 12).Select(i => $"runs/r{i:D2}/_manifest.json").ToList();

        var etags = new List<ETag>();
        foreach (var blobName in names)
        {
            etags.Add(await ConditionalBlobWrites.CreateOnlyAsync(container.GetBlobClient(blobName), BinaryData.FromString($"first {blobName}")));
        }

        proxy.Plan = FaultPlan.None;
        var second = await Assert.ThrowsAsync<RequestFailedException>(() =>
            ConditionalBlobWrites.CreateOnlyAsync(container.GetBlobClient(names[0]), BinaryData.FromString("second")));
        var direct = azurite.Blobs.GetBlobContainerClient(name);

        Assert.True(proxy.Injected.Cut > 0 && proxy.Injected.Replied503 + proxy.Injected.Dropped > 0, $"faults: {proxy.Injected}");
        Assert.Equal(409, second.Status);
        for (var i = 0; i < names.Count; i++)
        {
            var content = await direct.GetBlobClient(names[i]).DownloadContentAsync();
            Assert.Equal($"first {names[i]}", content.Value.Content.ToString());
            Assert.Equal(etags[i], content.Value.Details.ETag);
        }
    }

    [Fact]
    public async Task Create_only_applies_to_staged_block_uploads_too()
    {
        var name = await NewContainerAsync();
        var blob = azurite.Blobs.GetBlobContainerClient(name).GetBlobClient("big");
        var options = new BlobUploadOptions { TransferOptions = new() { InitialTransferSize = 64 * 1024, MaximumTransferSize = 64 * 1024 } };
        using var first = new PatternStream(200_000);
        await ConditionalBlobWrites.CreateOnlyAsync(blob, first, options);

        var error = await Assert.ThrowsAsync<RequestFailedException>(() => ConditionalBlobWrites.CreateOnlyAsync(blob, new PatternStream(200_000, seed: 2), options));
        await using var stored = new HashingStream();
        await blob.DownloadToAsync(stored);

        Assert.Equal(409, error.Status);
        Assert.Equal(first.Sha256, stored.Sha256);
    }
}
