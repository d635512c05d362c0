using Azure;
using FinServerless.Storage.Blobs;
using FinServerless.Storage.Sas;
using FinServerless.Testing;

namespace FinServerless.Storage.Tests;

public sealed class SasTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private async Task<(BlobContainerClient Inbox, BlobContainerClient Partner, BlobContainerClient Other)> PartnerInboxAsync()
    {
        var inbox = azurite.Blobs.GetBlobContainerClient(AzuriteFixture.UniqueName("inbox-acme"));
        var other = azurite.Blobs.GetBlobContainerClient(AzuriteFixture.UniqueName("inbox-rival"));
        await inbox.CreateIfNotExistsAsync();
        await other.CreateIfNotExistsAsync();
        await other.GetBlobClient("theirs.csv").UploadAsync(new BinaryData("a,b"u8.ToArray()));
        await inbox.GetBlobClient("already-there.csv").UploadAsync(new BinaryData("x"u8.ToArray()));
        var sasUri = inbox.GenerateSasUri(BlobSasBuilder.ForPartnerInbox(inbox.Name, TimeSpan.FromHours(1), allowHttp: true));
        return (inbox, BlobContainerClient.FromSasUri(sasUri), other);
    }

    [Fact]
    public void The_partner_SAS_is_write_only_scoped_to_one_container_and_time_limited()
    {
        var sas = BlobSasBuilder.ForPartnerInbox("inbox-acme", TimeSpan.FromHours(2));

        var query = sas.ToSasQuery(new StorageSharedKeyCredential("acct", Convert.ToBase64String(new byte[32])));

        Assert.Equal("cw", sas.PermissionString);
        Assert.Contains("sr=c", query);
        Assert.Contains("sp=cw", query);
        Assert.Contains("spr=https", query);
        Assert.Contains("se=", query);
    }

    [Fact]
    public async Task A_partner_can_drop_files_into_its_inbox_small_and_staged()
    {
        var (inbox, partner, _) = await PartnerInboxAsync();

        await partner.GetBlobClient("loans/2026-11-22.csv").UploadAsync(new BinaryData("id,amount\n1,100\n"u8.ToArray()), new BlobUploadOptions { ContentType = "text/csv" });
        await partner.GetBlobClient("loans/big.csv.gz").UploadAsync(new PatternStream(300_000), new BlobUploadOptions { SingleUploadThreshold = 64 * 1024, BlockSize = 64 * 1024 });

        Assert.Equal("id,amount\n1,100\n", (await inbox.GetBlobClient("loans/2026-11-22.csv").DownloadContentAsync()).ToString());
        Assert.Equal(300_000, (await inbox.GetBlobClient("loans/big.csv.gz").GetPropertiesAsync()).ContentLength);
    }

    [Fact]
    public async Task A_partner_cannot_read_list_or_delete_its_inbox()
    {
        var (_, partner, _) = await PartnerInboxAsync();

        var read = await Assert.ThrowsAsync<RequestFailedException>(() => partner.GetBlobClient("already-there.csv").DownloadContentAsync());
        var list = await Assert.ThrowsAsync<RequestFailedException>(() => partner.GetBlobPageAsync(null, null));
        var delete = await Assert.ThrowsAsync<RequestFailedException>(() => partner.GetBlobClient("already-there.csv").DeleteAsync());

        Assert.Equal(403, read.Status);
        Assert.Equal(403, list.Status);
        Assert.Equal(403, delete.Status);
    }

    [Fact]
    public async Task A_partner_SAS_does_not_reach_another_container()
    {
        var (_, partner, other) = await PartnerInboxAsync();
        var sasQuery = partner.Service.Pipeline.Sas!;
        var elsewhere = BlobContainerClient.FromSasUri(new Uri($"{other.Uri}?{sasQuery}"));

        var write = await Assert.ThrowsAsync<RequestFailedException>(() => elsewhere.GetBlobClient("planted.csv").UploadAsync(new BinaryData("x"u8.ToArray())));
        var read = await Assert.ThrowsAsync<RequestFailedException>(() => elsewhere.GetBlobClient("theirs.csv").DownloadContentAsync());

        Assert.Equal(403, write.Status);
        Assert.Equal(403, read.Status);
        Assert.False(await other.GetBlobClient("planted.csv").ExistsAsync());
    }

    [Fact]
    public async Task An_expired_SAS_is_refused()
    {
        var inbox = azurite.Blobs.GetBlobContainerClient(AzuriteFixture.UniqueName("inbox-late"));
        await inbox.CreateIfNotExistsAsync();
        var expired = inbox.GenerateSasUri(new BlobSasBuilder
        {
            ContainerName = inbox.Name,
            Permissions = BlobSasPermissions.Create | BlobSasPermissions.Write,
            StartsOn = DateTimeOffset.UtcNow.AddHours(-2),
            ExpiresOn = DateTimeOffset.UtcNow.AddMinutes(-1),
            Protocol = "https,http",
        });

        var error = await Assert.ThrowsAsync<RequestFailedException>(() =>
            BlobContainerClient.FromSasUri(expired).GetBlobClient("late.csv").UploadAsync(new BinaryData("x"u8.ToArray())));

        Assert.Equal(403, error.Status);
    }
}
