using System.Diagnostics;
using System.Security.Cryptography;
using Azure;
using Azure.Core;
using FinServerless.Storage.Blobs;
using FinServerless.Storage.Queues;
using FinServerless.Testing;

namespace FinServerless.Storage.Tests;

public sealed class FaultToleranceTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static StorageClientOptions FastRetries(int maxRetries = 10) => new()
    {
        Retry = { Mode = RetryMode.Exponential, MaxRetries = maxRetries, Delay = TimeSpan.FromMilliseconds(20), MaxDelay = TimeSpan.FromMilliseconds(200), NetworkTimeout = TimeSpan.FromSeconds(10) },
    };

    private BlobContainerClient ThroughProxy(FaultProxy proxy, string container, StorageClientOptions options) =>
        new BlobServiceClient(proxy.Through(azurite.Server.BlobEndpoint), new StorageSharedKeyCredential(Azurite.AzuriteServer.AccountName, Azurite.AzuriteServer.AccountKey), options)
            .GetBlobContainerClient(container);

    [Fact]
    public async Task Uploads_and_downloads_complete_identically_through_503s_drops_delays_and_cut_connections()
    {
        var name = AzuriteFixture.UniqueName("faults");
        await azurite.Blobs.GetBlobContainerClient(name).CreateIfNotExistsAsync();
        await using var proxy = new FaultProxy(azurite.Server.BlobEndpoint.Port, new FaultPlan
        {
            Reply503 = 0.15,
            Drop = 0.10,
            Delay = 0.10,
            DelayBy = TimeSpan.FromMilliseconds(200),
            CutAfterBytesMin = 256 * 1024,
            CutAfterBytesMax = 6 * 1024 * 1024,
        });
        var container = ThroughProxy(proxy, name, FastRetries());
        var blob = container.GetBlobClient("portfolio/2026-11-22.csv");
        using var source = new PatternStream(48L * 1024 * 1024, seed: 11);

        await blob.UploadAsync(source, new BlobUploadOptions { SingleUploadThreshold = 1024 * 1024, BlockSize = 1024 * 1024, MaxConcurrency = 4 });
        var uploadFaults = proxy.Injected;
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        int resumes;
        await using (var read = await blob.OpenReadAsync())
        {
            var buffer = new byte[256 * 1024];
            int n;
            while ((n = await read.ReadAsync(buffer)) > 0)
            {
                sha.AppendData(buffer, 0, n);
            }

            resumes = read.Resumes;
        }

        Assert.Equal(source.Sha256, sha.GetCurrentHash());
        Assert.True(uploadFaults.Replied503 + uploadFaults.Dropped > 0, $"faults injected during upload: {uploadFaults}");
        Assert.True(proxy.Injected.Cut > 0, $"connections cut: {proxy.Injected}");
        Assert.True(resumes > 0, "the download should have resumed after a cut connection");
    }

    [Fact]
    public async Task A_persistent_503_ends_in_a_clear_error_after_the_retries_not_a_hang()
    {
        var name = AzuriteFixture.UniqueName("busy");
        await azurite.Blobs.GetBlobContainerClient(name).CreateIfNotExistsAsync();
        await using var proxy = new FaultProxy(azurite.Server.BlobEndpoint.Port, new FaultPlan { Reply503 = 1.0 });
        var blob = ThroughProxy(proxy, name, FastRetries(maxRetries: 3)).GetBlobClient("never.csv");
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<RequestFailedException>(() => blob.UploadAsync(new BinaryData([1, 2, 3])));

        Assert.Equal(503, error.Status);
        Assert.Contains("never.csv", error.Message);
        Assert.Equal(4, proxy.Injected.Replied503);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task A_persistently_dropped_connection_ends_in_an_error_not_a_hang()
    {
        var name = AzuriteFixture.UniqueName("dropped");
        await azurite.Blobs.GetBlobContainerClient(name).CreateIfNotExistsAsync();
        await using var proxy = new FaultProxy(azurite.Server.BlobEndpoint.Port, new FaultPlan { Drop = 1.0 });
        var blob = ThroughProxy(proxy, name, FastRetries(maxRetries: 2)).GetBlobClient("never.csv");

        var error = await Assert.ThrowsAsync<RequestFailedException>(() => blob.UploadAsync(new BinaryData([1, 2, 3])));

        Assert.Equal("ServiceUnreachable", error.ErrorCode);
        Assert.Contains("never.csv", error.Message);
        Assert.Contains("after 3 tries", error.Message);
        Assert.Equal(3, proxy.Injected.Dropped);
    }

    [Fact]
    public async Task A_download_whose_every_resume_is_cut_gives_up_with_the_byte_it_reached()
    {
        var name = AzuriteFixture.UniqueName("cut");
        var direct = azurite.Blobs.GetBlobContainerClient(name);
        await direct.CreateIfNotExistsAsync();
        await direct.GetBlobClient("big.bin").UploadAsync(new PatternStream(4 * 1024 * 1024));
        await using var proxy = new FaultProxy(azurite.Server.BlobEndpoint.Port, new FaultPlan { CutAfterBytesMin = 600, CutAfterBytesMax = 700 });
        var blob = ThroughProxy(proxy, name, FastRetries(maxRetries: 1)).GetBlobClient("big.bin");

        var error = await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await using var read = await blob.OpenReadAsync();
            await read.CopyToAsync(Stream.Null);
        });

        Assert.Contains("big.bin", error.Message);
    }

    [Fact]
    public async Task Queue_operations_survive_a_share_of_503s()
    {
        await using var proxy = new FaultProxy(azurite.Server.QueueEndpoint.Port, new FaultPlan { Reply503 = 0.3 });
        var queues = new QueueServiceClient(
            proxy.Through(azurite.Server.QueueEndpoint),
            new StorageSharedKeyCredential(Azurite.AzuriteServer.AccountName, Azurite.AzuriteServer.AccountKey),
            FastRetries());
        var queue = queues.GetQueueClient(AzuriteFixture.UniqueName("flaky"));
        await queue.CreateIfNotExistsAsync();

        for (var i = 0; i < 20; i++)
        {
            await queue.SendMessageAsync($"m{i}");
        }

        var received = new List<string>();
        while (received.Count < 20)
        {
            foreach (var m in await queue.ReceiveMessagesAsync(32, TimeSpan.FromMinutes(5)))
            {
                received.Add(m.MessageText);
            }
        }

        Assert.True(proxy.Injected.Replied503 > 0);
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"m{i}").Order(), received.Distinct().Order());
    }

    [Fact]
    public async Task A_server_that_never_answers_times_out_into_a_clear_error()
    {
        var name = AzuriteFixture.UniqueName("stalled");
        await azurite.Blobs.GetBlobContainerClient(name).CreateIfNotExistsAsync();
        await using var proxy = new FaultProxy(azurite.Server.BlobEndpoint.Port, new FaultPlan { Delay = 1.0, DelayBy = TimeSpan.FromMinutes(10) });
        var options = FastRetries(maxRetries: 1);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(1);
        var blob = ThroughProxy(proxy, name, options).GetBlobClient("stalled.csv");
        var clock = Stopwatch.StartNew();

        var error = await Assert.ThrowsAsync<RequestFailedException>(() => blob.GetPropertiesAsync());

        Assert.Equal("ServiceUnreachable", error.ErrorCode);
        Assert.Contains("stalled.csv", error.Message);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task Cancelling_a_large_upload_stops_it_promptly()
    {
        var container = azurite.Blobs.GetBlobContainerClient(AzuriteFixture.UniqueName("cancel"));
        await container.CreateIfNotExistsAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var clock = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            container.GetBlobClient("huge.bin").UploadAsync(new PatternStream(50L << 30), cancellationToken: cancel.Token));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(15), $"took {clock.Elapsed}");
        Assert.False(await container.GetBlobClient("huge.bin").ExistsAsync());
    }
}
