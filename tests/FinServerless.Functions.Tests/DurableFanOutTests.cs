using System.Net.Http.Json;
using System.Text.Json.Nodes;
using FinServerless.Testing;

namespace FinServerless.Functions.Tests;

/// <summary>
/// The durable backend end to end through the dev host: a custom-handler app (tests/FinServerless.DevHost.FanOutApp)
/// whose orchestrator fans out to 1,000 activities, every episode and activity invoked through the host's envelopes,
/// state on a real Azurite.
/// </summary>
public sealed class DurableFanOutTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    private const string Api = "runtime/webhooks/durabletask";
    private const long SumOfSquares = 1000L * 1001 * 2001 / 6;

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("finserverless-fanout-test-");

    public void Dispose() => _folder.Delete(recursive: true);

    private static async Task<JsonObject?> StatusAsync(HttpClient http, string id, bool history = false) =>
        await http.GetFromJsonAsync<JsonObject>($"{Api}/instances/{id}{(history ? "?showHistory=true" : string.Empty)}");

    private static int Completed(JsonObject status) => status["historyEvents"]?.AsArray().Count(e => e?["taskCompleted"] is not null) ?? 0;

    [Fact]
    public async Task A_fan_out_of_1000_activities_survives_a_SIGKILL_of_the_dev_host_and_completes_with_the_right_result()
    {
        var settings = await DevHostProcess.WriteSettingsAsync(_folder.FullName, new Dictionary<string, string> { ["AzureWebJobsStorage"] = azurite.ConnectionString });
        var port = DevHostProcess.FreePort();

        string id;
        int before;
        await using (var first = await DevHostProcess.StartAsync(AppLayout.FanOutAppRoot, settings, port))
        {
            using var start = await first.Http.PostAsJsonAsync($"{Api}/orchestrators/FanOut", 1000);
            Assert.Equal(202, (int)start.StatusCode);
            id = (await start.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
            var midway = await Poll.UntilAsync(async () => await StatusAsync(first.Http, id, history: true) is { } s && Completed(s) >= 100 ? s : null, TimeSpan.FromMinutes(2), "100 activity results");
            await first.KillHostAsync(); // SIGKILL mid fan-out: messages in flight, episodes uncommitted
            before = Completed(midway);
            Assert.Equal("Running", midway["runtimeStatus"]!.ToString());
        }

        await using var second = await DevHostProcess.StartAsync(AppLayout.FanOutAppRoot, settings, port);
        var done = await Poll.UntilAsync(async () => await StatusAsync(second.Http, id) is { } s && s["runtimeStatus"]?.ToString() is "Completed" or "Failed" or "Terminated" ? s : null, TimeSpan.FromMinutes(3), "FanOut after the restart");
        var history = (await StatusAsync(second.Http, id, history: true))!;
        var stuck = await second.Http.GetFromJsonAsync<JsonArray>($"{Api}/instances?runtimeStatus=Pending,Running");

        Assert.True(before < 1000, $"the host was killed after all {before} results were in; the test did not interrupt the fan-out");
        Assert.True(done["runtimeStatus"]!.ToString() == "Completed", done.ToJsonString());
        Assert.Equal(1000, done["output"]!["count"]!.GetValue<int>());
        Assert.Equal(SumOfSquares, done["output"]!["sum"]!.GetValue<long>());
        Assert.Equal(1000, Completed(history)); // each result applied once, however often it was delivered
        Assert.Empty(stuck!);
    }
}
