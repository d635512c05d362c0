using Azure;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Sas;
using FinServerless.Connections;
using FinServerless.Contracts;
using FinServerless.Testing;

namespace FinServerless.Connections.Tests;

/// <summary>With only its SAS a partner can create and write in its own inbox, and nothing else.</summary>
public sealed class PartnerInboxSasTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static BlobClientOptions PartnerOptions() => new(BlobClientOptions.ServiceVersion.V2026_06_06) { Retry = { MaxRetries = 0 } };

    private async Task<(BlobContainerClient Inbox, BlobContainerClient Partner, PartnerSas Sas, BlobContainerClient Rival, BlobContainerClient Curated)> ArrangeAsync()
    {
        var partner = StorageName.Partner($"acme{Guid.NewGuid():N}"[..12]);
        var rival = StorageName.Partner($"rival{Guid.NewGuid():N}"[..12]);
        var inbox = azurite.Blobs.GetBlobContainerClient(StorageLayout.Inbox(partner));
        var rivalInbox = azurite.Blobs.GetBlobContainerClient(StorageLayout.Inbox(rival));
        var curated = azurite.Blobs.GetBlobContainerClient(AzuriteFixture.UniqueName("curated"));
        foreach (var c in new[] { inbox, rivalInbox, curated })
        {
            await c.CreateIfNotExistsAsync();
            await c.GetBlobClient("already-there.csv").UploadAsync(BinaryData.FromString("x"));
        }

        var sas = await PartnerInboxSas.CreateAsync(azurite.Blobs, partner, TimeSpan.FromHours(1), allowHttp: true);
        return (inbox, new BlobContainerClient(sas.Uri, PartnerOptions()), sas, rivalInbox, curated);
    }

    private static BlobContainerClient WithSameSas(PartnerSas sas, BlobContainerClient elsewhere) =>
        new(new UriBuilder(elsewhere.Uri) { Query = sas.Uri.Query.TrimStart('?') }.Uri, PartnerOptions());

    [Fact]
    public void The_partner_SAS_is_create_and_write_only_on_one_container_over_https_and_time_limited()
    {
        var builder = PartnerInboxSas.Builder(StorageName.Partner("acme"), TimeSpan.FromHours(2));

        var query = builder.ToSasQueryParameters(new StorageSharedKeyCredential("acct", Convert.ToBase64String(new byte[32]))).ToString();

        Assert.Equal("inbox-acme", builder.BlobContainerName);
        Assert.Contains("sr=c", query);
        Assert.Contains("sp=cw", query);
        Assert.Contains("spr=https", query);
        Assert.DoesNotContain("spr=https,http", query);
        Assert.InRange(builder.ExpiresOn - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(119), TimeSpan.FromMinutes(121));
    }

    [Fact]
    public async Task A_partner_can_create_and_write_small_and_staged_files_in_its_inbox()
    {
        var (inbox, partner, sas, _, _) = await ArrangeAsync();

        await partner.GetBlobClient("loans/2026-11-22.csv").UploadAsync(BinaryData.FromString("id,amount\n1,100\n"), new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "text/csv" } });
        using var big = new PatternStream(300_000);
        await partner.GetBlobClient("loans/big.csv.gz").UploadAsync(big, new BlobUploadOptions { TransferOptions = new() { InitialTransferSize = 64 * 1024, MaximumTransferSize = 64 * 1024 } });

        Assert.Equal("accountKey", sas.SignedWith);
        Assert.Equal("id,amount\n1,100\n", (await inbox.GetBlobClient("loans/2026-11-22.csv").DownloadContentAsync()).Value.Content.ToString());
        await using var stored = new HashingStream();
        await inbox.GetBlobClient("loans/big.csv.gz").DownloadToAsync(stored);
        Assert.Equal(big.Sha256, stored.Sha256);
    }

    [Fact]
    public async Task A_partner_gets_403_reading_listing_or_deleting_in_its_own_inbox()
    {
        var (inbox, partner, _, _, _) = await ArrangeAsync();

        var read = await Assert.ThrowsAsync<RequestFailedException>(() => partner.GetBlobClient("already-there.csv").DownloadContentAsync());
        var properties = await Assert.ThrowsAsync<RequestFailedException>(() => partner.GetBlobClient("already-there.csv").GetPropertiesAsync());
        var list = await Assert.ThrowsAsync<RequestFailedException>(async () =>
        {
            await foreach (var item in partner.GetBlobsAsync())
            {
                _ = item;
            }
        });
        var delete = await Assert.ThrowsAsync<RequestFailedException>(() => partner.GetBlobClient("already-there.csv").DeleteAsync());
        var deleteContainer = await Assert.ThrowsAsync<RequestFailedException>(() => partner.DeleteAsync());

        Assert.Equal([403, 403, 403, 403, 403], new[] { read.Status, properties.Status, list.Status, delete.Status, deleteContainer.Status });
        Assert.True(await inbox.GetBlobClient("already-there.csv").ExistsAsync());
        Assert.True(await inbox.ExistsAsync());
    }

    [Fact]
    public async Task A_partner_SAS_gets_403_in_another_partners_inbox_and_in_other_containers()
    {
        var (_, _, sas, rival, curated) = await ArrangeAsync();

        foreach (var target in new[] { rival, curated })
        {
            var elsewhere = WithSameSas(sas, target);
            var write = await Assert.ThrowsAsync<RequestFailedException>(() => elsewhere.GetBlobClient("planted.csv").UploadAsync(BinaryData.FromString("x")));
            var read = await Assert.ThrowsAsync<RequestFailedException>(() => elsewhere.GetBlobClient("already-there.csv").DownloadContentAsync());
            var delete = await Assert.ThrowsAsync<RequestFailedException>(() => elsewhere.GetBlobClient("already-there.csv").DeleteAsync());

            Assert.Equal([403, 403, 403], new[] { write.Status, read.Status, delete.Status });
            Assert.False(await target.GetBlobClient("planted.csv").ExistsAsync());
            Assert.True(await target.GetBlobClient("already-there.csv").ExistsAsync());
        }
    }

    [Fact]
    public async Task A_partner_SAS_cannot_create_containers_or_reach_the_account()
    {
        var (_, _, sas, _, _) = await ArrangeAsync();
        var newContainer = WithSameSas(sas, azurite.Blobs.GetBlobContainerClient(AzuriteFixture.UniqueName("planted")));
        var service = new BlobServiceClient(new UriBuilder(azurite.Server.BlobEndpoint) { Query = sas.Uri.Query.TrimStart('?') }.Uri, PartnerOptions());

        var create = await Assert.ThrowsAsync<RequestFailedException>(() => newContainer.CreateAsync());
        var list = await Assert.ThrowsAsync<RequestFailedException>(async () =>
        {
            await foreach (var c in service.GetBlobContainersAsync())
            {
                _ = c;
            }
        });

        Assert.Equal(403, create.Status);
        Assert.Equal(403, list.Status);
    }

    [Fact]
    public async Task An_expired_partner_SAS_is_refused()
    {
        var partner = StorageName.Partner($"late{Guid.NewGuid():N}"[..12]);
        await azurite.Blobs.GetBlobContainerClient(StorageLayout.Inbox(partner)).CreateIfNotExistsAsync();
        var expired = await PartnerInboxSas.CreateAsync(azurite.Blobs, partner, TimeSpan.FromMinutes(-1), allowHttp: true);

        var error = await Assert.ThrowsAsync<RequestFailedException>(() =>
            new BlobContainerClient(expired.Uri, PartnerOptions()).GetBlobClient("late.csv").UploadAsync(BinaryData.FromString("x")));

        Assert.Equal(403, error.Status);
    }
}
