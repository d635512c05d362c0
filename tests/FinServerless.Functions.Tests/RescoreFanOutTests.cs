using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs.Models;
using FinServerless.Native;
using FinServerless.Testing;

namespace FinServerless.Functions.Tests;

/// <summary>NightlyRescore over a run of many parts, and the function list the worker SDK builds into the app.</summary>
public sealed class RescoreFanOutTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    /// <summary>Every function of the app, as the worker SDK's source generator writes them into functions.metadata.</summary>
    private static readonly string[] Functions =
    [
        "CommitRescore", "DecidePromotion", "DispatchTrainingJob", "GetScoreJob", "GetTrainingJobStatus", "Health", "IngestDataset",
        "ListModels", "ListRuns", "NightlyRescore", "PlanRescore", "PrepareTraining", "PromoteModel", "RescorePortfolio", "ScoreBatch", "ScoreJobWorker", "ScorePartition",
        "StartTraining", "SubmitScoreJob", "TrainModel",
    ];

    [Fact]
    public void The_built_apps_functions_metadata_lists_every_function()
    {
        var metadata = JsonNode.Parse(File.ReadAllText(Path.Combine(AppLayout.AppRoot, "functions.metadata")))!.AsArray();
        Assert.Equal(Functions, metadata.Select(f => f!["name"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.True(File.Exists(Path.Combine(AppLayout.AppRoot, "worker.config.json")), "the worker SDK writes worker.config.json");
    }

    [Fact]
    public async Task A_rescoring_fan_out_over_eight_or_more_partitions_scores_each_part_once_and_commits_once()
    {
        var contracts = azurite.Blobs.GetBlobContainerClient("contracts");
        await contracts.CreateIfNotExistsAsync();
        var contract = (await File.ReadAllTextAsync(Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "contract.json"))).Replace("\"partner\": \"demo\"", "\"partner\": \"fan\"", StringComparison.Ordinal);
        await contracts.GetBlobClient("fan/taiwan-credit.json").UploadAsync(new BinaryData(contract), overwrite: true);
        var inbox = azurite.Blobs.GetBlobContainerClient("inbox-fan");
        await inbox.CreateIfNotExistsAsync();
        await inbox.GetBlobClient("taiwan-credit/book.csv").UploadAsync(new BinaryData(await File.ReadAllBytesAsync(Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "UCI_Credit_Card.csv"))), overwrite: true);

        var settings = AppLayout.Settings(azurite.ConnectionString);
        settings["FINSERVERLESS_INGEST_PART_BYTES"] = "65536"; // the smallest parts (64 KiB): the 30,000-row sample curates to about a dozen
        var log = new List<string>();
        await using var host = await AppHost.StartAsync(settings, l => { lock (log) { log.Add(l); } });
        using var http = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };

        var runs = await Poll.UntilAsync(async () => await http.GetFromJsonAsync<JsonObject>("api/runs/fan/taiwan-credit") is { } r && r["runs"]!.AsArray().Count > 0 ? r : null, TimeSpan.FromMinutes(2), "the curated run");
        var manifestPath = runs["runs"]![0]!["manifest"]!.GetValue<string>();
        var manifest = JsonNode.Parse((await azurite.Blobs.GetBlobContainerClient("curated").GetBlobClient(manifestPath["curated/".Length..]).DownloadContentAsync()).Value.Content.ToString())!;
        var parts = manifest["parts"]!.AsArray().Count;
        Assert.True(parts >= 8, $"the run has {parts} parts; the test needs at least 8");

        using var start = await HttpClientJsonExtensions.PostAsJsonAsync(http, "api/training", new { partner = "fan", dataset = "taiwan-credit", trainer = "xgboost", model = "fan-model", @params = new { num_boost_round = 60 } });
        var statusUri = (await start.Content.ReadFromJsonAsync<JsonObject>())!["statusQueryGetUri"]!.GetValue<string>();
        var trained = await Poll.UntilAsync(async () => await http.GetFromJsonAsync<JsonObject>(statusUri) is { } s && s["runtimeStatus"]?.ToString() is "Completed" or "Failed" ? s : null, TimeSpan.FromMinutes(4), "TrainModel");
        Assert.True(trained["runtimeStatus"]!.ToString() == "Completed", trained.ToJsonString());

        using (var fire = await HttpClientJsonExtensions.PostAsJsonAsync(http, "admin/functions/NightlyRescore", new { input = string.Empty }))
        {
            Assert.Equal(System.Net.HttpStatusCode.Accepted, fire.StatusCode);
        }

        var rescore = await Poll.UntilAsync(async () => (await http.GetFromJsonAsync<JsonArray>("runtime/webhooks/durabletask/instances"))?
            .FirstOrDefault(i => i?["name"]?.ToString() == "RescorePortfolio" && i["runtimeStatus"]?.ToString() is "Completed" or "Failed") as JsonObject, TimeSpan.FromMinutes(3), "RescorePortfolio");
        Assert.True(rescore["runtimeStatus"]!.ToString() == "Completed", rescore.ToJsonString());
        Assert.Equal(manifest["rows"]!["accepted"]!.GetValue<long>(), rescore["output"]!["rows"]!.GetValue<long>());

        // One committed score run for this data and model: one manifest, one file per part, the rows of the curated run.
        var scores = new List<string>();
        await foreach (var blob in azurite.Blobs.GetBlobContainerClient("scores").GetBlobsAsync(BlobTraits.None, BlobStates.None, "fan/taiwan-credit/", default))
        {
            scores.Add(blob.Name);
        }

        var manifests = scores.Where(n => n.EndsWith("/_manifest.json", StringComparison.Ordinal)).ToList();
        var scoreManifest = JsonNode.Parse((await azurite.Blobs.GetBlobContainerClient("scores").GetBlobClient(Assert.Single(manifests)).DownloadContentAsync()).Value.Content.ToString())!;
        Assert.Equal(parts, scoreManifest["parts"]!.AsArray().Count);
        Assert.Equal(manifest["rows"]!["accepted"]!.GetValue<long>(), scoreManifest["rows"]!.GetValue<long>());
        lock (log)
        {
            Assert.Equal(parts, log.Count(l => l.Contains("ScorePartition (activityTrigger) succeeded", StringComparison.Ordinal)));
            Assert.Equal(1, log.Count(l => l.Contains("CommitRescore (activityTrigger) succeeded", StringComparison.Ordinal)));
        }
    }
}

/// <summary>The app's settings are read when its worker starts: a bad one stops the start, named in the error.</summary>
public sealed class StartupSettingsTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Theory]
    [InlineData("FINSERVERLESS_TRAINING_DISPATCHER", "kubernetes")]
    [InlineData("FINSERVERLESS_MASTER_SCALE", "A:zero")]
    [InlineData("FINSERVERLESS_INGEST_PART_BYTES", "12")]
    [InlineData("FINSERVERLESS_TRAINING_DEVICE", "gpu")]
    [InlineData("FINSERVERLESS_PROMOTION_MARGIN", "a little")]
    [InlineData("FINSERVERLESS_PROMOTION_MIN_CLASS_ROWS", "-5")]
    [InlineData("FINSERVERLESS_TRAINING_TIMEOUT_MINUTES", "0")]
    [InlineData("FINSERVERLESS_SCORE_MAX_ROWS", "lots")]
    [InlineData("FINSERVERLESS_SCORE_ENGINE", "gpu")]
    [InlineData("FINSERVERLESS_SCORE_REASONS", "11")]
    public async Task A_bad_setting_fails_the_start_naming_it(string setting, string value)
    {
        var settings = AppLayout.Settings(azurite.ConnectionString);
        settings[setting] = value;

        var error = await Assert.ThrowsAsync<FinServerless.IsolatedHost.WorkerStartException>(async () =>
        {
            await using var host = await AppHost.StartAsync(settings, _ => { });
        });

        Assert.Contains(setting, error.Message, StringComparison.Ordinal);
    }
}
