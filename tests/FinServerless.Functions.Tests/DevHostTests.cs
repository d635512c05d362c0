using System.Net.Http.Json;
using System.Text.Json.Nodes;
using FinServerless.DevHost;
using FinServerless.IsolatedHost;
using FinServerless.Native;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using FinServerless.Testing;

namespace FinServerless.Functions.Tests;

/// <summary>The function app through the dev host on a real Azurite: the demo flow, poison messages, a killed host.</summary>
public sealed class DevHostTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("finserverless-devhost-test-");

    public void Dispose() => _folder.Delete(recursive: true);

    private async Task UploadAsync(string container, string name, byte[] content)
    {
        var client = azurite.Blobs.GetBlobContainerClient(container);
        await client.CreateIfNotExistsAsync();
        await client.GetBlobClient(name).UploadAsync(new BinaryData(content), new BlobUploadOptions());
    }

    [Fact]
    public async Task Taiwan_sample_from_inbox_to_curated_to_trained_champion_to_nightly_rescore()
    {
        var output = new StringWriter();
        var summary = await Demo.RunAsync(null, AppLayout.AppRoot, Path.Combine(_folder.FullName, "demo"), "xgboost", output, CancellationToken.None);

        Assert.Equal(30_000, summary.Curated);
        Assert.Equal(0, summary.Quarantined);
        Assert.InRange(summary.Auc, 0.7, 1);
        Assert.Equal(summary.Model[(summary.Model.IndexOf('@') + 1)..], summary.Champion);
        Assert.Equal(summary.Curated, summary.Scored); // the committed score manifest's row count equals the curated rows
        Assert.Contains("Demo summary", output.ToString());
        Assert.True(File.Exists(Path.Combine(summary.OutputFolder, summary.ScoreManifest)), "the score manifest is among the copied outputs");
    }

    [Fact]
    public async Task A_file_whose_ingest_always_fails_lands_in_the_poison_queue_after_5_attempts_and_the_host_keeps_serving()
    {
        var log = new List<string>();
        await using var host = await AppHost.StartAsync(AppLayout.Settings(azurite.ConnectionString), l => { lock (log) { log.Add(l); } });
        using var http = new HttpClient { BaseAddress = host.BaseAddress };
        await UploadAsync("inbox-nocontract", "loans/2026-11-22.csv", "id,amount\n1,100\n"u8.ToArray());

        var poison = azurite.Queues.GetQueueClient("ingest-events-poison");
        await poison.CreateIfNotExistsAsync();
        await Poll.UntilAsync(async () => (await poison.PeekMessagesAsync()).Value.Length > 0 ? [] : null, TimeSpan.FromMinutes(2), "the poison queue");

        var message = Assert.Single((await poison.PeekMessagesAsync(10)).Value);
        Assert.Contains("inbox-nocontract/loans/2026-11-22.csv", message.Body.ToString());
        lock (log)
        {
            // host.json's maxDequeueCount is 5: five failed attempts, each logged with the function's reason, then poison.
            Assert.Equal(5, log.Count(l => l.Contains("IngestDataset (queueTrigger ingest-events) failed", StringComparison.Ordinal)));
            Assert.Contains(log, l => l.Contains("Function 'IngestDataset'", StringComparison.Ordinal) && l.Contains("no contract exists", StringComparison.Ordinal)); // the worker's own log of the exception
        }

        var failure = JsonNode.Parse((await azurite.Blobs.GetBlobContainerClient("quarantine").GetBlobClient("_failures/inbox-nocontract/loans/2026-11-22.csv.json").DownloadContentAsync()).Value.Content.ToMemory().Span)!;
        Assert.Contains("no contract exists for partner 'nocontract' and dataset 'loans'", failure["reason"]!.GetValue<string>());
        Assert.Equal(5, failure["attempts"]!.GetValue<long>());

        using var health = await http.GetAsync("api/health");
        Assert.Equal(200, (int)health.StatusCode);
    }

    [Fact]
    public async Task The_dev_host_killed_during_training_and_restarted_completes_the_training()
    {
        var settingsPath = await DevHostProcess.WriteSettingsAsync(_folder.FullName, AppLayout.Settings(azurite.ConnectionString));
        var port = DevHostProcess.FreePort();
        await UploadAsync("contracts", "kill/taiwan-credit.json", (await File.ReadAllTextAsync(Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "contract.json"))).Replace("\"partner\": \"demo\"", "\"partner\": \"kill\"", StringComparison.Ordinal).Select(c => (byte)c).ToArray());
        await UploadAsync("inbox-kill", "taiwan-credit/sample.csv", await File.ReadAllBytesAsync(Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "UCI_Credit_Card.csv")));

        string statusUri;
        await using (var first = await DevHostProcess.StartAsync(AppLayout.AppRoot, settingsPath, port))
        {
            var http = first.Http;
            await Poll.UntilAsync(async () => (await http.GetFromJsonAsync<JsonObject>("api/runs/kill/taiwan-credit"))?["runs"]?.AsArray().Count > 0 ? [] : null, TimeSpan.FromMinutes(2), "the curated run");
            using var start = await http.PostAsJsonAsync("api/training", new { partner = "kill", dataset = "taiwan-credit", trainer = "mlp", @params = new { epochs = 40, patience = 40 } });
            statusUri = (await start.Content.ReadFromJsonAsync<JsonObject>())!["statusQueryGetUri"]!.GetValue<string>();
            await Poll.UntilAsync(async () => (await http.GetFromJsonAsync<JsonObject>(statusUri))?["customStatus"]?["phase"]?.ToString() == "training" ? [] : null, TimeSpan.FromMinutes(1), "the training phase");
            await first.KillHostAsync(); // SIGKILL to the host alone, mid-training
        }

        await using var second = await DevHostProcess.StartAsync(AppLayout.AppRoot, settingsPath, port);
        var done = await Poll.UntilAsync(async () => (await second.Http.GetFromJsonAsync<JsonObject>(statusUri)) is { } s && s["runtimeStatus"]?.ToString() is "Completed" or "Failed" ? s : null, TimeSpan.FromMinutes(5), "TrainModel after the restart");
        Assert.True(done["runtimeStatus"]!.ToString() == "Completed", done.ToJsonString());
        Assert.True(done["output"]!["decision"]!["promote"]!.GetValue<bool>());
        var champion = await second.Http.GetFromJsonAsync<JsonObject>("api/models/taiwan-credit-mlp");
        Assert.Equal(done["output"]!["model"]!.ToString().Split('@')[1], champion!["models"]![0]!["champion"]!["version"]!.ToString());
    }
}
