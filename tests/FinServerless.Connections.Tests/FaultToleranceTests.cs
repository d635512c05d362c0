using Azure;
using Azure.Storage;
using Azure.Storage.Blobs.Models;
using FinServerless.Connections;
using FinServerless.Testing;

namespace FinServerless.Connections.Tests;

/// <summary>The SDK's retries, as StorageConnection configures them, through injected faults.</summary>
public sealed class FaultToleranceTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static readonly StorageTransferOptions OneMiBBlocks = new()
    {
        InitialTransferSize = 1024 * 1024,
        MaximumTransferSize = 1024 * 1024,
        MaximumConcurrency = 4,
    };

    [Fact]
    public async Task Uploads_and_downloads_are_byte_identical_through_503s_drops_delays_and_cut_connections()
    {
        var name = AzuriteFixture.UniqueName("faults");
        await azurite.Blobs.GetBlobContainerClient(name).CreateIfNotExistsAsync();
        await using var proxy = new FaultProxy(azurite.Server.BlobEndpoint.Port, new FaultPlan
        {
            Reply503 = 0.15,
            Drop = 0.10,
            Delay = 0.10,
            DelayBy = TimeSpan.FromMilliseconds(200),
        });
        var blob = Through.Proxy(azurite, proxy).CreateBlobServiceClient().GetBlobContainerClient(name).GetBlobClient("portfolio/2026-11-22.csv");
        using var source = new PatternStream(32L * 1024 * 1024, seed: 11);

        await blob.UploadAsync(source, new BlobUploadOptions { TransferOptions = OneMiBBlocks });
        var uploadFaults = proxy.Injected;

        // Downloads through a second proxy (the SDK keeps connections alive, and a plan applies to new connections):
        // every connection is also cut somewhere in the first few MiB of its responses.
        await using var cutting = new FaultProxy(azurite.Server.BlobEndpoint.Port, proxy.Plan with { CutAfterBytesMin = 256 * 1024, CutAfterBytesMax = 3 * 1024 * 1024 }, seed: 3);
        var download = Through.Proxy(azurite, cutting).CreateBlobServiceClient().GetBlobContainerClient(name).GetBlobClient(blob.Name);
        await using var parallel = new HashingStream();
        await download.DownloadToAsync(parallel, new BlobDownloadToOptions { TransferOptions = OneMiBBlocks });
        var cutsAfterRanged = cutting.Injected.Cut;
        await using var sequential = new HashingStream();
        await using (var read = await download.OpenReadAsync(new BlobOpenReadOptions(allowModifications: false) { BufferSize = 4 * 1024 * 1024 }))
        {
            await read.CopyToAsync(sequential);
        }

        Assert.True(uploadFaults.Replied503 + uploadFaults.Dropped > 0, $"faults injected during upload: {uploadFaults}");
        Assert.True(cutsAfterRanged > 0 && cutting.Injected.Cut > cutsAfterRanged, $"connections cut during the downloads: {cutting.Injected}");
        Assert.Equal(source.Length, sequential.Written);
        Assert.Equal(Convert.ToHexString(source.Sha256), Convert.ToHexString(parallel.Sha256));
        Assert.Equal(Convert.ToHexString(source.Sha256), Convert.ToHexString(sequential.Sha256));
    }

    [Fact]
    public async Task A_streamed_download_resumes_after_its_connection_is_cut_mid_body()
    {
        var name = AzuriteFixture.UniqueName("resume");
        var direct = azurite.Blobs.GetBlobContainerClient(name);
        await direct.CreateIfNotExistsAsync();
        using var source = new PatternStream(8 * 1024 * 1024, seed: 5);
        await direct.GetBlobClient("big.bin").UploadAsync(source);
        // Every connection is cut after 1.5 to 2.5 MiB: 8 MiB then takes 3 to 5 cuts, always within the SDK's 5 resumes of
        // a streamed download (a cut every 0.5 MiB could need more, and failed a run now and then).
        await using var proxy = new FaultProxy(azurite.Server.BlobEndpoint.Port, new FaultPlan { CutAfterBytesMin = 3 * 512 * 1024, CutAfterBytesMax = 5 * 512 * 1024 });
        var blob = Through.Proxy(azurite, proxy).CreateBlobServiceClient().GetBlobContainerClient(name).GetBlobClient("big.bin");

        // One GET for the whole blob; the SDK's retriable stream re-requests the remaining range after each cut.
        var response = await blob.DownloadStreamingAsync();
        await using var sink = new HashingStream();
        await using (var body = response.Value.Content)
        {
            await body.CopyToAsync(sink);
        }

        Assert.True(proxy.Injected.Cut >= 3, $"cuts: {proxy.Injected}");
        Assert.Equal(Convert.ToHexString(source.Sha256), Convert.ToHexString(sink.Sha256));
    }

    [Fact(Timeout = 120_000)]
    public async Task A_persistent_503_ends_after_the_configured_retries_and_is_described_with_blob_account_and_operation()
    {
        var name = AzuriteFixture.UniqueName("busy");
        await azurite.Blobs.GetBlobContainerClient(name).CreateIfNotExistsAsync();
        await using var proxy = new FaultProxy(azurite.Server.BlobEndpoint.Port, new FaultPlan { Reply503 = 1.0 });
        var blob = Through.Proxy(azurite, proxy, maxRetries: 3).CreateBlobServiceClient().GetBlobContainerClient(name).GetBlobClient("never.csv");

        var error = await Assert.ThrowsAsync<RequestFailedException>(() => blob.UploadAsync(new BinaryData([1, 2, 3])));
        var described = StorageFailure.Describe(error, "upload", blob.Uri);

        Assert.Equal(503, error.Status);
        Assert.Equal("ServerBusy", error.ErrorCode);
        Assert.Equal(4, proxy.Injected.Replied503);
        Assert.Equal(503, described.Status);
        Assert.Contains($"upload on 'devstoreaccount1/{name}/never.csv'", described.Message);
        Assert.Contains("storage account 'devstoreaccount1'", described.Message);
        Assert.Contains($"127.0.0.1:{proxy.Port}", described.Message);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_persistently_dropped_connection_ends_in_an_error_after_the_retries_not_a_hang()
    {
        var name = AzuriteFixture.UniqueName("dropped");
        await azurite.Blobs.GetBlobContainerClient(name).CreateIfNotExistsAsync();
        await using var proxy = new FaultProxy(azurite.Server.BlobEndpoint.Port, new FaultPlan { Drop = 1.0 });
        var blob = Through.Proxy(azurite, proxy, maxRetries: 2).CreateBlobServiceClient().GetBlobContainerClient(name).GetBlobClient("never.csv");

        var error = await Assert.ThrowsAnyAsync<Exception>(() => StorageFailure.RunAsync("upload", blob.Uri, ct => blob.UploadAsync(new BinaryData([1, 2, 3]), ct)));

        var described = Assert.IsType<StorageOperationException>(error);
        Assert.Equal("ServiceUnreachable", described.ErrorCode);
        Assert.Contains("never.csv", described.Message);
        Assert.Contains("after 3 tries", described.Message);
        Assert.Equal(3, proxy.Injected.Dropped);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_server_that_never_answers_times_out_after_the_network_timeout_into_a_described_error()
    {
        var name = AzuriteFixture.UniqueName("stalled");
        await azurite.Blobs.GetBlobContainerClient(name).CreateIfNotExistsAsync();
        await using var proxy = new FaultProxy(azurite.Server.BlobEndpoint.Port, new FaultPlan { Delay = 1.0, DelayBy = TimeSpan.FromMinutes(10) });
        var blob = Through.Proxy(azurite, proxy, maxRetries: 1, networkTimeout: TimeSpan.FromSeconds(1)).CreateBlobServiceClient().GetBlobContainerClient(name).GetBlobClient("stalled.csv");

        var error = await Assert.ThrowsAsync<StorageOperationException>(() => StorageFailure.RunAsync("get properties", blob.Uri, ct => blob.GetPropertiesAsync(cancellationToken: ct)));

        Assert.Equal("ServiceUnreachable", error.ErrorCode);
        Assert.Contains("get properties on", error.Message);
        Assert.Contains("stalled.csv", error.Message);
        Assert.Equal(2, proxy.Injected.Delayed);
    }

    [Fact(Timeout = 120_000)]
    public async Task Queue_operations_survive_a_share_of_503s()
    {
        await using var proxy = new FaultProxy(azurite.Server.QueueEndpoint.Port, new FaultPlan { Reply503 = 0.3 });
        var queue = Through.Proxy(azurite, null, proxy).CreateQueueServiceClient().GetQueueClient(AzuriteFixture.UniqueName("flaky"));
        await queue.CreateIfNotExistsAsync();

        for (var i = 0; i < 20; i++)
        {
            await queue.SendMessageAsync($"m{i}");
        }

        var received = new List<string>();
        while (received.Count < 20)
        {
            foreach (var m in (await queue.ReceiveMessagesAsync(32, TimeSpan.FromMinutes(5))).Value)
            {
                received.Add(m.MessageText);
            }
        }

        Assert.True(proxy.Injected.Replied503 > 0);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}").Order(), received.Order());
    }

    [Fact(Timeout = 60_000)]
    public async Task Cancelling_a_large_upload_stops_it_and_commits_nothing()
    {
        var container = azurite.Blobs.GetBlobContainerClient(AzuriteFixture.UniqueName("cancel"));
        await container.CreateIfNotExistsAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            container.GetBlobClient("huge.bin").UploadAsync(new PatternStream(50L << 30), new BlobUploadOptions { TransferOptions = OneMiBBlocks }, cancel.Token));

        Assert.False(await container.GetBlobClient("huge.bin").ExistsAsync());
    }
}
