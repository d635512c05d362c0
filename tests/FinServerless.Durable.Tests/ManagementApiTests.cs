using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using FinServerless.Connections;
using FinServerless.Durable.Backend;
using FinServerless.Durable.Http;
using FinServerless.Durable.Orchestration;
using FinServerless.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Logging;

namespace FinServerless.Durable.Tests;

/// <summary>The management API over HTTP, on a real Kestrel and a real Azurite.</summary>
public sealed class ManagementApiTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static readonly Dictionary<string, Orchestrator> Orchestrators = new()
    {
        ["Echo"] = async ctx =>
        {
            var input = ctx.GetInput<JsonElement>();
            ctx.SetCustomStatus("waiting for go");
            var extra = await ctx.WaitForExternalEvent<string>("go");
            return new { input, extra };
        },
    };

    [Fact]
    public async Task Start_status_events_terminate_list_and_purge_behave_like_Durable_Functions()
    {
        var hub = new StorageTaskHub(StorageConnection.FromConnectionString(azurite.ConnectionString), new TaskHubOptions { HubName = "api" + Guid.NewGuid().ToString("N")[..10], MaxPollInterval = TimeSpan.FromMilliseconds(50) });
        await hub.CreateIfNotExistsAsync();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        await using var app = builder.Build();
        app.MapDurableManagementApi(hub);
        await app.StartAsync();
        using var http = new HttpClient { BaseAddress = new Uri(app.Urls.First()) };
        using var stop = new CancellationTokenSource();
        var worker = hub.RunAsync((n, r, _) => Task.FromResult(OrchestrationExecutor.Execute(r, Orchestrators[n])), (_, _, _, _) => Task.FromResult(ActivityResult.Success(null)), stop.Token);

        var start = await http.PostAsJsonAsync("/runtime/webhooks/durabletask/orchestrators/Echo/echo-1", new { portfolio = "retail" });
        var urls = await start.Content.ReadFromJsonAsync<JsonElement>();
        var duplicate = await http.PostAsJsonAsync("/runtime/webhooks/durabletask/orchestrators/Echo/echo-1", new { });
        var badBody = await http.PostAsync("/runtime/webhooks/durabletask/orchestrators/Echo", new StringContent("{not json"));
        JsonElement running;
        HttpResponseMessage status;
        do
        {
            await Task.Delay(50);
            status = await http.GetAsync(urls.GetProperty("statusQueryGetUri").GetString());
            running = await status.Content.ReadFromJsonAsync<JsonElement>();
        }
        while (running.GetProperty("runtimeStatus").GetString() != "Running");

        var raise = await http.PostAsJsonAsync(urls.GetProperty("sendEventPostUri").GetString()!.Replace("{eventName}", "go"), "now");
        var done = await hub.WaitForCompletionAsync("echo-1", TimeSpan.FromSeconds(30));
        var final = await http.GetAsync("/runtime/webhooks/durabletask/instances/echo-1?showHistory=true");
        var finalBody = await final.Content.ReadFromJsonAsync<JsonElement>();
        var lateEvent = await http.PostAsJsonAsync("/runtime/webhooks/durabletask/instances/echo-1/raiseEvent/go", "again");
        var unknown = await http.GetAsync("/runtime/webhooks/durabletask/instances/nobody");

        await http.PostAsJsonAsync("/runtime/webhooks/durabletask/orchestrators/Echo/echo-2", 1);
        var terminate = await http.PostAsync("/runtime/webhooks/durabletask/instances/echo-2/terminate?reason=stop", null);
        await hub.WaitForCompletionAsync("echo-2", TimeSpan.FromSeconds(30));
        var listed = await http.GetFromJsonAsync<JsonElement>("/runtime/webhooks/durabletask/instances?runtimeStatus=Terminated");
        var purge = await http.DeleteAsync("/runtime/webhooks/durabletask/instances/echo-2");
        var purgedStatus = await http.GetAsync("/runtime/webhooks/durabletask/instances/echo-2");
        stop.Cancel();
        await worker;

        Assert.Equal(HttpStatusCode.Accepted, start.StatusCode);
        Assert.Equal("echo-1", urls.GetProperty("id").GetString());
        Assert.Equal(urls.GetProperty("statusQueryGetUri").GetString(), start.Headers.Location!.ToString());
        Assert.Equal(HttpStatusCode.Conflict, duplicate.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badBody.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, status.StatusCode);
        Assert.Equal("waiting for go", running.GetProperty("customStatus").GetString());
        Assert.Equal("retail", running.GetProperty("input").GetProperty("portfolio").GetString());
        Assert.Equal(HttpStatusCode.Accepted, raise.StatusCode);
        Assert.Equal(Protocol.OrchestrationStatus.Completed, done.OrchestrationStatus);
        Assert.Equal(HttpStatusCode.OK, final.StatusCode);
        Assert.Equal("now", finalBody.GetProperty("output").GetProperty("extra").GetString());
        Assert.True(finalBody.GetProperty("historyEvents").GetArrayLength() > 3);
        Assert.Equal(HttpStatusCode.Gone, lateEvent.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, terminate.StatusCode);
        Assert.Contains(listed.EnumerateArray(), e => e.GetProperty("instanceId").GetString() == "echo-2");
        Assert.Equal(HttpStatusCode.OK, purge.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, purgedStatus.StatusCode);
    }
}
