using System.Security.Cryptography;
using FinServerless.Storage.Blobs;
using FinServerless.Testing;

namespace FinServerless.Storage.Tests;

public sealed class BlobRoundTripTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task A_blob_uploaded_to_Azurite_reads_back_identical_with_its_properties()
    {
        var container = azurite.Blobs.GetBlobContainerClient(AzuriteFixture.UniqueName("roundtrip"));
        Assert.True(await container.CreateIfNotExistsAsync());
        Assert.False(await container.CreateIfNotExistsAsync());
        var content = RandomNumberGenerator.GetBytes(300_000);
        var blob = container.GetBlobClient("folder/with space/file.csv");

        var written = await blob.UploadAsync(new BinaryData(content), new BlobUploadOptions
        {
            ContentType = "text/csv",
            Metadata = new Dictionary<string, string> { ["partner"] = "demo" },
        });
        var read = await blob.DownloadContentAsync();
        var properties = await blob.GetPropertiesAsync();

        Assert.Equal(SHA256.HashData(content), SHA256.HashData(read.ToArray()));
        Assert.Equal(content.Length, properties.ContentLength);
        Assert.Equal("text/csv", properties.ContentType);
        Assert.Equal("demo", properties.Metadata["partner"]);
        Assert.Equal(written.ETag, properties.ETag);
    }
}
