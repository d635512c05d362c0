using FinServerless.Contracts;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Ingest;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using FinServerless.Testing;

namespace FinServerless.Datasets.Tests;

public sealed class BlobIngestTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private async Task<(BlobServiceClient Service, string Partner)> PartnerAsync()
    {
        var service = azurite.Blobs;
        var partner = "p" + Guid.NewGuid().ToString("N")[..10];
        var contract = DatasetFiles.TaiwanContract with { Partner = partner };
        var contracts = service.GetBlobContainerClient(StorageLayout.ContractsContainer);
        await contracts.CreateIfNotExistsAsync();
        await contracts.GetBlobClient($"{partner}/taiwan-credit.json").UploadAsync(new BinaryData(System.Text.Encoding.UTF8.GetBytes(contract.ToJson())), overwrite: true);
        var inbox = service.GetBlobContainerClient($"inbox-{partner}");
        await inbox.CreateIfNotExistsAsync();
        return (service, partner);
    }

    private static async Task DropAsync(BlobServiceClient service, string partner, string name)
    {
        await using var file = File.OpenRead(DatasetFiles.TaiwanCsv);
        await service.GetBlobContainerClient($"inbox-{partner}").GetBlobClient(name).UploadAsync(file, overwrite: true);
    }

    [Fact]
    public async Task A_dropped_file_becomes_a_curated_run_whose_manifest_is_written_last()
    {
        var (service, partner) = await PartnerAsync();
        await DropAsync(service, partner, "taiwan-credit/2026-11-22.csv");

        var outcome = await new BlobIngestor(service).IngestAsync(InboxFile.Parse($"inbox-{partner}", "taiwan-credit/2026-11-22.csv"));

        Assert.Equal(IngestState.Curated, outcome.State);
        Assert.Equal(30_000, outcome.Manifest!.Rows.Accepted);
        Assert.Equal($"contracts/{partner}/taiwan-credit.json", outcome.Manifest.Contract.Path);
        var curated = service.GetBlobContainerClient("curated");
        var blobs = new List<BlobItem>();
        await foreach (var b in curated.GetBlobsAsync(BlobTraits.None, BlobStates.None, $"{partner}/taiwan-credit/{outcome.RunId}/", default))
        {
            blobs.Add(b);
        }

        var manifest = Assert.Single(blobs, b => b.Name.EndsWith("_manifest.json", StringComparison.Ordinal));
        Assert.All(blobs.Where(b => b != manifest), part => Assert.True(part.Properties.LastModified <= manifest.Properties.LastModified));
        Assert.Equal(outcome.Manifest.Parts.Count, blobs.Count - 1);
    }

    [Fact]
    public async Task The_same_file_under_a_changed_contract_is_a_new_run_and_is_curated_again()
    {
        var (service, partner) = await PartnerAsync();
        await DropAsync(service, partner, "taiwan-credit/tuesday.csv");
        var ingestor = new BlobIngestor(service);
        var file = InboxFile.Parse($"inbox-{partner}", "taiwan-credit/tuesday.csv");
        var first = await ingestor.IngestAsync(file);

        var changed = DatasetFiles.TaiwanContract with { Partner = partner, ContractVersion = "9.9.9" };
        await service.GetBlobContainerClient(StorageLayout.ContractsContainer).GetBlobClient($"{partner}/taiwan-credit.json")
            .UploadAsync(new BinaryData(System.Text.Encoding.UTF8.GetBytes(changed.ToJson())), new BlobUploadOptions());
        var second = await ingestor.IngestAsync(file);
        var again = await ingestor.IngestAsync(file);

        Assert.Equal(IngestState.Curated, first.State);
        Assert.Equal(IngestState.Curated, second.State);
        Assert.NotEqual(first.RunId, second.RunId);
        Assert.Equal("9.9.9", second.Manifest!.Contract.Version);
        Assert.Equal(first.Manifest!.Input.Sha256, second.Manifest.Input.Sha256);
        Assert.Equal(second.RunId, again.RunId); // redelivery under the new contract still maps to one run
    }

    [Fact]
    public async Task The_same_event_delivered_twice_and_the_same_content_dropped_again_yield_one_curated_run()
    {
        var (service, partner) = await PartnerAsync();
        await DropAsync(service, partner, "taiwan-credit/monday.csv");
        var ingestor = new BlobIngestor(service);

        var first = await ingestor.IngestAsync(InboxFile.Parse($"inbox-{partner}", "taiwan-credit/monday.csv"));
        var redelivered = await ingestor.IngestAsync(InboxFile.Parse($"inbox-{partner}", "taiwan-credit/monday.csv"));
        await DropAsync(service, partner, "taiwan-credit/monday-copy.csv");
        var copy = await ingestor.IngestAsync(InboxFile.Parse($"inbox-{partner}", "taiwan-credit/monday-copy.csv"));

        Assert.Equal(first.RunId, redelivered.RunId);
        Assert.Contains("already ingested", redelivered.Message);
        Assert.Equal(IngestState.Duplicate, copy.State);
        var manifests = 0;
        await foreach (var b in service.GetBlobContainerClient("curated").GetBlobsAsync(BlobTraits.None, BlobStates.None, $"{partner}/", default))
        {
            manifests += b.Name.EndsWith("_manifest.json", StringComparison.Ordinal) ? 1 : 0;
        }

        Assert.Equal(1, manifests);
    }

    [Fact]
    public async Task A_file_for_a_dataset_without_a_contract_is_refused_by_name()
    {
        var (service, partner) = await PartnerAsync();
        await service.GetBlobContainerClient($"inbox-{partner}").GetBlobClient("unknown-set/x.csv").UploadAsync(new BinaryData("a\n1\n"u8.ToArray()), overwrite: true);

        var error = await Assert.ThrowsAsync<ContractException>(() => new BlobIngestor(service).IngestAsync(InboxFile.Parse($"inbox-{partner}", "unknown-set/x.csv")));

        Assert.Contains($"contracts/{partner}/unknown-set.json", error.Message);
        Assert.Contains("no contract exists", error.Message);
    }

    [Fact]
    public async Task A_rejected_blob_gets_a_report_in_quarantine_and_no_curated_run()
    {
        var (service, partner) = await PartnerAsync();
        await service.GetBlobContainerClient($"inbox-{partner}").GetBlobClient("taiwan-credit/empty.csv").UploadAsync(new BinaryData(Array.Empty<byte>()), overwrite: true);

        var outcome = await new BlobIngestor(service).IngestAsync(InboxFile.Parse($"inbox-{partner}", "taiwan-credit/empty.csv"));

        Assert.Equal(IngestState.Rejected, outcome.State);
        Assert.True(await service.GetBlobContainerClient("quarantine").GetBlobClient($"{partner}/taiwan-credit/{outcome.RunId}/report.json").ExistsAsync());
        Assert.Contains($"inbox-{partner}/taiwan-credit/empty.csv", outcome.Message);
    }

    [Fact]
    public async Task An_unreachable_account_fails_in_bounded_time_naming_the_operation_and_the_account()
    {
        var closed = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        closed.Start();
        var port = ((System.Net.IPEndPoint)closed.LocalEndpoint).Port;
        closed.Stop();
        var service = (FinServerless.Connections.StorageConnection.FromConnectionString(
            $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={FinServerless.Azurite.AzuriteServer.AccountKey};BlobEndpoint=http://127.0.0.1:{port}/devstoreaccount1")
            with { MaxRetries = 1, NetworkTimeout = TimeSpan.FromSeconds(2) }).CreateBlobServiceClient();

        var error = await Assert.ThrowsAsync<FinServerless.Connections.StorageOperationException>(() => new BlobRunOutput(service).ReadAsync("contracts/acme/loans.json", default));

        Assert.Contains("download", error.Message, StringComparison.Ordinal);
        Assert.Contains("devstoreaccount1", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(FinServerless.Azurite.AzuriteServer.AccountKey, error.Message, StringComparison.Ordinal);
    }
}
