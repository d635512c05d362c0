using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using FinServerless.Azurite;
using FinServerless.Connections;
using FinServerless.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Native;
using FinServerless.Onnx.Writer;
using FinServerless.Testing;

namespace FinServerless.Scoring.Tests;

/// <summary>
/// Ingest and scoring on the official storage SDK through a proxy that answers 503s, drops and delays connections
/// and cuts responses mid-body: the curated parts and the score parts are byte-identical to a clean run's.
/// </summary>
public sealed class FaultInjectionTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static readonly string Sample = Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit");

    private BlobServiceClient Through(FaultProxy proxy)
    {
        var connection = StorageConnection.FromConnectionString(
            $"DefaultEndpointsProtocol=http;AccountName={AzuriteServer.AccountName};AccountKey={AzuriteServer.AccountKey};BlobEndpoint={proxy.Through(azurite.Server.BlobEndpoint)}")
            with { MaxRetries = 30, NetworkTimeout = TimeSpan.FromSeconds(20) };
        return connection.CreateBlobServiceClient();
    }

    private static async Task<(RunManifest Run, string Path, ScoreManifest Scores)> IngestAndScoreAsync(BlobServiceClient service, string partner)
    {
        var contract = (await File.ReadAllTextAsync(Path.Combine(Sample, "contract.json"))).Replace("\"partner\": \"demo\"", $"\"partner\": \"{partner}\"", StringComparison.Ordinal);
        var contracts = service.GetBlobContainerClient("contracts");
        await contracts.CreateIfNotExistsAsync();
        await contracts.GetBlobClient($"{partner}/taiwan-credit.json").UploadAsync(new BinaryData(contract), overwrite: true);
        var inbox = service.GetBlobContainerClient($"inbox-{partner}");
        await inbox.CreateIfNotExistsAsync();
        await using (var file = File.OpenRead(Path.Combine(Sample, "UCI_Credit_Card.csv")))
        {
            await inbox.GetBlobClient("taiwan-credit/sample.csv").UploadAsync(file, new BlobUploadOptions { TransferOptions = BlobRunOutput.Transfer });
        }

        var ingest = await new BlobIngestor(service).IngestAsync(InboxFile.Parse($"inbox-{partner}", "taiwan-credit/sample.csv"), new IngestOptions { PartBytes = 1 << 20 });
        Assert.Equal(IngestState.Curated, ingest.State);

        var store = new BlobRunOutput(service);
        var models = new ModelStore(store);
        var features = ingest.Manifest!.Columns.Where(c => c != "ID" && c != ingest.Manifest.TargetColumn).ToList();
        var weights = features.Select((_, i) => ((i % 5) - 2) * 1e-6f).ToArray();
        await models.RegisterAsync(
            new ModelManifest
            {
                Name = "shared-linear",
                Version = "1.0.0",
                Features = features.Select(f => new FeatureSpec(f)).ToList(),
                Onnx = new OnnxArtifact { Sha256 = "set-on-register", ProbabilityOutput = LinearModel.OutputName, ProbabilityColumn = 0 },
            },
            LinearModel.Write(features, weights, -1.1f));
        using var model = await models.LoadAsync(ModelReference.Parse("shared-linear@1.0.0"));
        var scored = await BatchScorer.ScoreRunAsync(ingest.Manifest, ingest.ManifestPath!, store, model);
        return (ingest.Manifest, ingest.ManifestPath!, scored.Manifest);
    }

    [Fact]
    public async Task Ingest_and_scoring_through_injected_faults_give_the_bytes_of_a_clean_run()
    {
        var clean = await IngestAndScoreAsync(azurite.Blobs, "clean");

        await using var proxy = new FaultProxy(azurite.Server.BlobEndpoint.Port, new FaultPlan
        {
            Reply503 = 0.10,
            Drop = 0.05,
            Delay = 0.10,
            DelayBy = TimeSpan.FromMilliseconds(100),
            CutAfterBytesMin = 64 * 1024,
            CutAfterBytesMax = 4 * 1024 * 1024,
        }, seed: 7);
        var faulty = await IngestAndScoreAsync(Through(proxy), "faulty");

        Assert.True(proxy.Injected.Replied503 + proxy.Injected.Dropped + proxy.Injected.Cut > 0, $"no fault was injected: {proxy.Injected}");
        Assert.Equal(clean.Run.Rows, faulty.Run.Rows);
        Assert.Equal(clean.Run.Input.Sha256, faulty.Run.Input.Sha256);
        Assert.Equal(clean.Run.Parts.Select(p => p.Sha256), faulty.Run.Parts.Select(p => p.Sha256));
        Assert.Equal(clean.Scores.Rows, faulty.Scores.Rows);
        Assert.Equal(clean.Scores.Bands, faulty.Scores.Bands);
        Assert.Equal(clean.Scores.Parts.Select(p => p.Sha256), faulty.Scores.Parts.Select(p => p.Sha256));
    }
}
