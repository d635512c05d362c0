using System.Security.Cryptography;
using FinServerless.Storage.Blobs;
using FinServerless.Testing;

namespace FinServerless.Storage.Tests;

public sealed class LargeBlobTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task A_1_GiB_blob_uploads_and_downloads_with_the_same_SHA256()
    {
        const long size = 1L << 30;
        var container = azurite.Blobs.GetBlobContainerClient(AzuriteFixture.UniqueName("large"));
        await container.CreateIfNotExistsAsync();
        var blob = container.GetBlobClient("portfolio-1gib.bin");
        using var source = new PatternStream(size, seed: 42);

        var info = await blob.UploadAsync(source);
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        long read = 0;
        await using (var download = await blob.OpenReadAsync())
        {
            var buffer = new byte[1024 * 1024];
            int n;
            while ((n = await download.ReadAsync(buffer)) > 0)
            {
                sha.AppendData(buffer, 0, n);
                read += n;
            }
        }

        Assert.Equal(size, info.ContentLength);
        Assert.Equal(size, read);
        Assert.Equal(Convert.ToHexString(source.Sha256), Convert.ToHexString(sha.GetCurrentHash()));
        await container.DeleteIfExistsAsync();
    }
}
