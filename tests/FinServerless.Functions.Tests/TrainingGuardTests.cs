using System.Net.Http.Json;
using System.Text.Json.Nodes;
using FinServerless.DevHost;
using FinServerless.Native;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using FinServerless.Testing;

namespace FinServerless.Functions.Tests;

/// <summary>
/// TrainModel's minimums through the dev host on a real Azurite: too little curated data fails the training with the
/// minimum, the counts and the setting; held-out rows with too few of a class decide no promotion and leave the
/// champion as it was.
/// </summary>
public sealed class TrainingGuardTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static readonly string Sample = Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit");

    /// <summary>Drops the first <paramref name="rows"/> rows of the Taiwan sample and its contract for <paramref name="partner"/>.</summary>
    private async Task DropAsync(string partner, int rows)
    {
        var contracts = azurite.Blobs.GetBlobContainerClient("contracts");
        await contracts.CreateIfNotExistsAsync();
        var contract = (await File.ReadAllTextAsync(Path.Combine(Sample, "contract.json"))).Replace("\"partner\": \"demo\"", $"\"partner\": \"{partner}\"", StringComparison.Ordinal);
        await contracts.GetBlobClient($"{partner}/taiwan-credit.json").UploadAsync(new BinaryData(contract), overwrite: true);
        var inbox = azurite.Blobs.GetBlobContainerClient($"inbox-{partner}");
        await inbox.CreateIfNotExistsAsync();
        var lines = File.ReadLines(Path.Combine(Sample, "UCI_Credit_Card.csv")).Take(rows + 1);
        await inbox.GetBlobClient("taiwan-credit/part.csv").UploadAsync(new BinaryData(string.Join('\n', lines) + "\n"), new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "text/csv" } });
    }

    private async Task<FinServerless.IsolatedHost.IsolatedFunctionsHost> StartAsync(IReadOnlyDictionary<string, string>? overrides = null)
    {
        var settings = AppLayout.Settings(azurite.ConnectionString);
        foreach (var (name, value) in overrides ?? new Dictionary<string, string>())
        {
            settings[name] = value;
        }

        return await AppHost.StartAsync(settings, _ => { });
    }

    /// <summary>Waits for the curated run, starts TrainModel and returns its final status.</summary>
    private static async Task<JsonObject> TrainAsync(FinServerless.IsolatedHost.IsolatedFunctionsHost host, string partner, string model)
    {
        using var http = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        await Poll.UntilAsync(async () => (await http.GetFromJsonAsync<JsonObject>($"api/runs/{partner}/taiwan-credit"))?["runs"]?.AsArray().Count > 0 ? [] : null, TimeSpan.FromMinutes(2), "the curated run");
        using var start = await http.PostAsJsonAsync("api/training", new { partner, dataset = "taiwan-credit", trainer = "xgboost", model });
        var statusUri = (await start.Content.ReadFromJsonAsync<JsonObject>())!["statusQueryGetUri"]!.GetValue<string>();
        return await Poll.UntilAsync(async () => await http.GetFromJsonAsync<JsonObject>(statusUri) is { } s && s["runtimeStatus"]?.ToString() is "Completed" or "Failed" or "Terminated" ? s : null, TimeSpan.FromMinutes(4), $"TrainModel of {model}");
    }

    private async Task<List<string>> ModelBlobsAsync(string model)
    {
        var names = new List<string>();
        var models = azurite.Blobs.GetBlobContainerClient("models");
        if (await models.ExistsAsync())
        {
            await foreach (var blob in models.GetBlobsAsync(BlobTraits.None, BlobStates.None, $"{model}/", default))
            {
                names.Add(blob.Name);
            }
        }

        return names;
    }

    private async Task<byte[]?> ChampionAsync(string model)
    {
        var blob = azurite.Blobs.GetBlobContainerClient("models").GetBlobClient($"{model}/champion.json");
        return await blob.ExistsAsync() ? (await blob.DownloadContentAsync()).Value.Content.ToArray() : null;
    }

    [Fact]
    public async Task A_curated_run_below_the_training_minimum_fails_TrainModel_with_the_reason_and_no_job_model_or_champion()
    {
        await DropAsync("fewrows", 400);
        await using var host = await StartAsync();

        var done = await TrainAsync(host, "fewrows", "fewrows-model");

        Assert.True(done["runtimeStatus"]!.ToString() == "Failed", done.ToJsonString());
        var output = done["output"]!.ToString();
        Assert.Contains("TrainModel refused", output);
        Assert.Contains("has 400 rows, fewer than the 1,000 required to train a model (setting FINSERVERLESS_TRAIN_MIN_ROWS=1000)", output);
        Assert.Equal("failed", done["customStatus"]!["phase"]!.ToString());
        Assert.Contains("FINSERVERLESS_TRAIN_MIN_ROWS", done["customStatus"]!["reason"]!.ToString());
        Assert.Empty(await ModelBlobsAsync("fewrows-model")); // no job dispatched, nothing registered, no champion
    }

    [Fact]
    public async Task Too_few_of_a_class_is_refused_by_the_training_job_with_the_minimum_it_was_given_and_no_champion()
    {
        await DropAsync("fewclass", 1200);
        await using var host = await StartAsync(new Dictionary<string, string> { ["FINSERVERLESS_TRAIN_MIN_CLASS_ROWS"] = "300" });

        var done = await TrainAsync(host, "fewclass", "fewclass-model");

        Assert.True(done["runtimeStatus"]!.ToString() == "Failed", done.ToJsonString());
        var reason = "has 256 defaults (target 1) and 944 non-defaults (target 0), fewer than the 300 of each class required to train a model (setting FINSERVERLESS_TRAIN_MIN_CLASS_ROWS=300)";
        Assert.Contains(reason, done["output"]!.ToString());
        Assert.Equal("failed", done["customStatus"]!["phase"]!.ToString());
        Assert.Contains(reason, done["customStatus"]!["reason"]!.ToString());
        Assert.Null(await ChampionAsync("fewclass-model"));
        Assert.DoesNotContain(await ModelBlobsAsync("fewclass-model"), b => b.EndsWith("/manifest.json", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Held_out_rows_with_fewer_defaults_than_the_promotion_minimum_decide_no_promotion_and_leave_the_champion()
    {
        // 1,000 rows with 214 defaults: the 20% held out holds about 43 defaults, under the default minimum of 50.
        await DropAsync("promo", 1000);
        JsonObject first;
        await using (var lenient = await StartAsync(new Dictionary<string, string> { ["FINSERVERLESS_PROMOTION_MIN_ROWS"] = "0", ["FINSERVERLESS_PROMOTION_MIN_CLASS_ROWS"] = "0" }))
        {
            first = await TrainAsync(lenient, "promo", "promo-model");
        }

        Assert.True(first["runtimeStatus"]!.ToString() == "Completed", first.ToJsonString());
        Assert.True(first["output"]!["decision"]!["promote"]!.GetValue<bool>());
        var champion = await ChampionAsync("promo-model");
        Assert.NotNull(champion);

        JsonObject second;
        await using (var strict = await StartAsync(new Dictionary<string, string> { ["FINSERVERLESS_PROMOTION_MIN_ROWS"] = "100" }))
        {
            second = await TrainAsync(strict, "promo", "promo-model");
        }

        Assert.True(second["runtimeStatus"]!.ToString() == "Completed", second.ToJsonString());
        var decision = second["output"]!["decision"]!;
        Assert.False(decision["promote"]!.GetValue<bool>());
        var reason = decision["reason"]!.ToString();
        Assert.Contains("not promoted: the held-out evaluation rows of", reason);
        Assert.Contains("fewer than the 50 of each class required to decide a promotion (setting FINSERVERLESS_PROMOTION_MIN_CLASS_ROWS=50)", reason);
        Assert.Contains($"the champion stays {first["output"]!["decision"]!["version"]}", reason);
        Assert.Equal("FINSERVERLESS_PROMOTION_MIN_CLASS_ROWS", decision["belowMinimum"]!["setting"]!.ToString());
        Assert.InRange(decision["belowMinimum"]!["found"]!.GetValue<long>(), 1, 49);
        Assert.Equal(decision["evaluationPositives"]!.GetValue<int>(), decision["belowMinimum"]!["found"]!.GetValue<long>());
        Assert.Equal(reason, second["customStatus"]!["reason"]!.ToString());
        Assert.Equal(champion, await ChampionAsync("promo-model")); // champion.json byte for byte as before

        var version = decision["version"]!.ToString();
        var recorded = JsonNode.Parse((await azurite.Blobs.GetBlobContainerClient("models").GetBlobClient($"promo-model/{version}/promotion.json").DownloadContentAsync()).Value.Content.ToMemory().Span)!;
        Assert.False(recorded["promote"]!.GetValue<bool>());
        Assert.Equal(reason, recorded["reason"]!.ToString());
        Assert.True(await azurite.Blobs.GetBlobContainerClient("models").GetBlobClient($"promo-model/{version}/manifest.json").ExistsAsync(), "the candidate is registered, just not promoted");
    }
}
