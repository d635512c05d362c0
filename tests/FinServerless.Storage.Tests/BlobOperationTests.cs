using System.Security.Cryptography;
using Azure;
using FinServerless.Storage.Blobs;
using FinServerless.Testing;

namespace FinServerless.Storage.Tests;

public sealed class BlobOperationTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private async Task<BlobContainerClient> NewContainerAsync()
    {
        var container = azurite.Blobs.GetBlobContainerClient(AzuriteFixture.UniqueName("blobs"));
        await container.CreateIfNotExistsAsync();
        return container;
    }

    [Fact]
    public async Task A_stream_larger_than_the_threshold_is_staged_in_blocks_and_reads_back_identical()
    {
        var container = await NewContainerAsync();
        var blob = container.GetBlobClient("staged.bin");
        using var source = new PatternStream(5 * 1024 * 1024 + 123, seed: 3);
        var progress = new List<long>();

        var info = await blob.UploadAsync(source, new BlobUploadOptions
        {
            SingleUploadThreshold = 256 * 1024,
            BlockSize = 256 * 1024,
            MaxConcurrency = 3,
            Progress = new SyncProgress(progress),
        });

        Assert.Equal(source.Length, info.ContentLength);
        Assert.Equal(source.Length, progress.Max());
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await using (var read = await blob.OpenReadAsync())
        {
            var buffer = new byte[100_000];
            int n;
            while ((n = await read.ReadAsync(buffer)) > 0)
            {
                sha.AppendData(buffer, 0, n);
            }
        }

        Assert.Equal(source.Sha256, sha.GetCurrentHash());
    }

    [Fact]
    public async Task An_empty_blob_round_trips()
    {
        var blob = (await NewContainerAsync()).GetBlobClient("empty");

        await blob.UploadAsync(new BinaryData(Array.Empty<byte>()));

        Assert.Empty((await blob.DownloadContentAsync()).ToArray());
        Assert.Equal(0, (await blob.GetPropertiesAsync()).ContentLength);
    }

    [Fact]
    public async Task Content_type_encoding_and_metadata_are_stored_and_metadata_can_be_replaced()
    {
        var blob = (await NewContainerAsync()).GetBlobClient("data.csv.gz");
        await blob.UploadAsync(new BinaryData([1, 2, 3]), new BlobUploadOptions
        {
            ContentType = "text/csv",
            ContentEncoding = "gzip",
            Metadata = new Dictionary<string, string> { ["sha256"] = "abc", ["rows"] = "3" },
        });

        await blob.SetMetadataAsync(new Dictionary<string, string> { ["state"] = "curated" });
        var properties = await blob.GetPropertiesAsync();

        Assert.Equal("text/csv", properties.ContentType);
        Assert.Equal("gzip", properties.ContentEncoding);
        Assert.Equal("curated", properties.Metadata["state"]);
        Assert.False(properties.Metadata.ContainsKey("rows"));
    }

    [Fact]
    public async Task Create_only_writes_refuse_to_overwrite_with_a_clear_conflict()
    {
        var blob = (await NewContainerAsync()).GetBlobClient("_manifest.json");
        await blob.UploadAsync(new BinaryData("first"u8.ToArray()), new BlobUploadOptions { Conditions = BlobRequestConditions.CreateOnly });

        var error = await Assert.ThrowsAsync<RequestFailedException>(() =>
            blob.UploadAsync(new BinaryData("second"u8.ToArray()), new BlobUploadOptions { Conditions = BlobRequestConditions.CreateOnly }));

        Assert.Equal(409, error.Status);
        Assert.Equal("BlobAlreadyExists", error.ErrorCode);
        Assert.Contains("_manifest.json", error.Message);
        Assert.Equal("first", (await blob.DownloadContentAsync()).ToString());
    }

    [Fact]
    public async Task Create_only_applies_to_staged_uploads_too()
    {
        var blob = (await NewContainerAsync()).GetBlobClient("big");
        var options = new BlobUploadOptions { SingleUploadThreshold = 64 * 1024, BlockSize = 64 * 1024, Conditions = BlobRequestConditions.CreateOnly };
        await blob.UploadAsync(new PatternStream(200_000), options);

        var error = await Assert.ThrowsAsync<RequestFailedException>(() => blob.UploadAsync(new PatternStream(200_000, seed: 2), options));

        Assert.Equal(409, error.Status);
    }

    [Fact]
    public async Task An_ETag_conditional_write_with_a_stale_ETag_fails_with_412()
    {
        var blob = (await NewContainerAsync()).GetBlobClient("champion.json");
        var v1 = await blob.UploadAsync(new BinaryData("v1"u8.ToArray()));
        await blob.UploadAsync(new BinaryData("v2"u8.ToArray()), new BlobUploadOptions { Conditions = BlobRequestConditions.Matching(v1.ETag) });

        var error = await Assert.ThrowsAsync<RequestFailedException>(() =>
            blob.UploadAsync(new BinaryData("v3"u8.ToArray()), new BlobUploadOptions { Conditions = BlobRequestConditions.Matching(v1.ETag) }));

        Assert.Equal(412, error.Status);
        Assert.Contains("re-read", error.Message);
        Assert.Equal("v2", (await blob.DownloadContentAsync()).ToString());
    }

    [Fact]
    public async Task Delete_and_exists()
    {
        var blob = (await NewContainerAsync()).GetBlobClient("to-delete");
        await blob.UploadAsync(new BinaryData([9]));

        Assert.True(await blob.ExistsAsync());
        await blob.DeleteAsync();
        Assert.False(await blob.ExistsAsync());
        Assert.False(await blob.DeleteIfExistsAsync());
        var error = await Assert.ThrowsAsync<RequestFailedException>(() => blob.DeleteAsync());
        Assert.Equal(404, error.Status);
    }

    [Fact]
    public async Task Reading_a_missing_blob_names_it_and_says_what_to_check()
    {
        var container = await NewContainerAsync();

        var error = await Assert.ThrowsAsync<RequestFailedException>(() => container.GetBlobClient("nope/missing.csv").DownloadContentAsync());

        Assert.Equal(404, error.Status);
        Assert.Equal("BlobNotFound", error.ErrorCode);
        Assert.Contains($"{container.Name}/nope/missing.csv", error.Message);
    }

    [Fact]
    public void An_invalid_container_name_is_refused_before_any_request()
    {
        var error = Assert.Throws<ArgumentException>(() => azurite.Blobs.GetBlobContainerClient("Inbox_Partner"));

        Assert.Contains("Inbox_Partner", error.Message);
    }

    [Fact]
    public async Task A_lease_gives_one_writer_the_blob_until_it_is_released()
    {
        var blob = (await NewContainerAsync()).GetBlobClient("leased");
        await blob.UploadAsync(new BinaryData("v1"u8.ToArray()));
        var holder = blob.GetLeaseClient();
        await holder.AcquireAsync(TimeSpan.FromSeconds(15));

        var rival = await Assert.ThrowsAsync<RequestFailedException>(() => blob.GetLeaseClient().AcquireAsync(TimeSpan.FromSeconds(15)));
        var unleasedWrite = await Assert.ThrowsAsync<RequestFailedException>(() => blob.UploadAsync(new BinaryData("x"u8.ToArray())));
        await blob.UploadAsync(new BinaryData("v2"u8.ToArray()), new BlobUploadOptions { Conditions = new BlobRequestConditions { LeaseId = holder.LeaseId } });
        await holder.RenewAsync();
        Assert.Equal("leased", (await blob.GetPropertiesAsync()).LeaseState);
        await holder.ReleaseAsync();
        await blob.GetLeaseClient().AcquireAsync(Timeout.InfiniteTimeSpan);

        Assert.Equal(409, rival.Status);
        Assert.Equal("LeaseAlreadyPresent", rival.ErrorCode);
        Assert.Equal(412, unleasedWrite.Status);
        Assert.Equal("v2", (await blob.DownloadContentAsync()).ToString());
    }

    [Fact]
    public async Task Listing_follows_pages_past_5000_blobs_and_filters_by_prefix()
    {
        var container = await NewContainerAsync();
        var names = Enumerable.Range(0, 5_050).Select(i => $"runs/part-{i:D5}.csv").Concat(["other/one.csv"]).ToList();
        await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (name, ct) =>
            await container.GetBlobClient(name).UploadAsync(new BinaryData([1]), cancellationToken: ct));

        var firstPage = await container.GetBlobPageAsync("runs/", null);
        var all = new List<string>();
        await foreach (var item in container.GetBlobsAsync("runs/"))
        {
            all.Add(item.Name);
        }

        var small = await container.GetBlobPageAsync(null, null, pageSize: 7, includeMetadata: true);

        Assert.Equal(5_000, firstPage.Items.Count);
        Assert.NotNull(firstPage.ContinuationToken);
        Assert.Equal(5_050, all.Count);
        Assert.Equal(all.Distinct().Count(), all.Count);
        Assert.DoesNotContain("other/one.csv", all);
        Assert.Equal(7, small.Items.Count);
        Assert.Equal(1, small.Items[0].ContentLength);
    }

    private sealed class SyncProgress(List<long> values) : IProgress<long>
    {
        public void Report(long value)
        {
            lock (values)
            {
                values.Add(value);
            }
        }
    }
}
