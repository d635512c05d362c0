using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using FinServerless.DevHost;
using FinServerless.Durable.Protocol;
using FinServerless.Testing;

namespace FinServerless.Functions.Tests;

/// <summary>
/// The handler fed the exact envelopes the Functions host sends (strings double-encoded, the HTTP request object,
/// the base64 protobuf orchestration context), with its replies checked against the host's output rules.
/// </summary>
public sealed class HandlerContractTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private async Task<(HandlerProcess Handler, List<string> Log)> StartAsync()
    {
        var log = new List<string>();
        var handler = await HandlerProcess.StartAsync(FunctionApp.Load(AppLayout.AppRoot), AppLayout.Settings(azurite.ConnectionString), l => { lock (log) { log.Add(l); } }, CancellationToken.None);
        return (handler, log);
    }

    private static async Task<(int Status, JsonObject? Reply)> PostAsync(HandlerProcess handler, string function, string envelope)
    {
        using var content = new StringContent(envelope, System.Text.Encoding.UTF8, "application/json");
        using var response = await handler.Client.PostAsync(function, content);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, JsonNode.Parse(text) as JsonObject);
    }

    [Fact]
    public async Task Http_trigger_reply_has_a_string_status_code_and_an_object_body()
    {
        var (handler, _) = await StartAsync();
        await using var _h = handler;
        const string envelope = """
            {"Data":{"req":{"Url":"http://localhost:7071/api/health","Method":"GET","Query":{},"Headers":{"Accept":["application/json"]},"Params":{},"Identities":[],"Body":""}},
             "Metadata":{"sys":{"MethodName":"Health","UtcNow":"2026-11-22T10:00:00Z","RandGuid":"7c9e6679-7425-40de-944b-e07fc1f90ae7"}}}
            """;
        var (status, reply) = await PostAsync(handler, "Health", envelope);
        Assert.Equal(200, status);
        var res = reply!["Outputs"]!["res"]!;
        Assert.Equal(JsonValueKind.String, res["statusCode"]!.GetValueKind());
        Assert.Equal("200", res["statusCode"]!.GetValue<string>());
        Assert.Equal(JsonValueKind.Object, res["body"]!.GetValueKind());
        Assert.Equal("healthy", res["body"]!["status"]!.GetValue<string>());
        Assert.Equal(JsonValueKind.Array, reply["Logs"]!.GetValueKind());
    }

    [Fact]
    public async Task Queue_output_is_an_object_never_a_string_the_host_could_take_for_base64()
    {
        var (handler, _) = await StartAsync();
        await using var _h = handler;
        var body = JsonSerializer.Serialize(new { model = "m@champion", run = "curated/p/d/r1/_manifest.json" });
        var envelope = new JsonObject
        {
            ["Data"] = new JsonObject { ["req"] = new JsonObject { ["Url"] = "http://localhost:7071/api/score-jobs", ["Method"] = "POST", ["Query"] = new JsonObject(), ["Headers"] = new JsonObject(), ["Params"] = new JsonObject(), ["Body"] = body } },
            ["Metadata"] = new JsonObject(),
        }.ToJsonString();
        var (status, reply) = await PostAsync(handler, "SubmitScoreJob", envelope);
        Assert.Equal(200, status);
        Assert.Equal(JsonValueKind.Object, reply!["Outputs"]!["request"]!.GetValueKind());
        Assert.Equal("202", reply["Outputs"]!["res"]!["statusCode"]!.GetValue<string>());
        Assert.EndsWith($"/api/score-jobs/{reply["Outputs"]!["request"]!["jobId"]}", reply["Outputs"]!["res"]!["body"]!["statusUrl"]!.GetValue<string>());
    }

    [Fact]
    public async Task Orchestration_trigger_takes_a_double_encoded_base64_request_and_returns_a_base64_string()
    {
        var (handler, _) = await StartAsync();
        await using var _h = handler;
        var request = new OrchestratorRequest { InstanceId = "abc" };
        request.NewEvents.Add(new HistoryEvent { EventId = -1, Timestamp = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTime(DateTime.UtcNow), OrchestratorStarted = new OrchestratorStartedEvent() });
        request.NewEvents.Add(new HistoryEvent
        {
            EventId = -1,
            Timestamp = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTime(DateTime.UtcNow),
            ExecutionStarted = new ExecutionStartedEvent { Name = "RescorePortfolio", Input = "{\"models\":null}", OrchestrationInstance = new OrchestrationInstance { InstanceId = "abc" } },
        });
        var base64 = Convert.ToBase64String(Google.Protobuf.MessageExtensions.ToByteArray(request));
        var envelope = new JsonObject { ["Data"] = new JsonObject { ["context"] = Invoker.DoubleEncoded(base64) }, ["Metadata"] = new JsonObject() }.ToJsonString();
        Assert.Contains("\"context\":\"\\u0022", envelope); // the value is a JSON string holding a JSON string literal

        var (status, reply) = await PostAsync(handler, "RescorePortfolio", envelope);
        Assert.Equal(200, status);
        Assert.Equal(JsonValueKind.String, reply!["ReturnValue"]!.GetValueKind());
        var response = OrchestratorResponse.Parser.ParseFrom(Convert.FromBase64String(reply["ReturnValue"]!.GetValue<string>()));
        Assert.Equal("abc", response.InstanceId);
        var action = Assert.Single(response.Actions);
        Assert.Equal("ListLatestRuns", action.ScheduleTask.Name);
        Assert.Equal(0, action.Id);
    }

    [Fact]
    public async Task Activity_trigger_reads_its_double_encoded_input_and_returns_json()
    {
        var (handler, _) = await StartAsync();
        await using var _h = handler;
        var envelope = new JsonObject
        {
            ["Data"] = new JsonObject { ["input"] = Invoker.DoubleEncoded("{\"models\":[\"nothing-here\"]}") },
            ["Metadata"] = new JsonObject { ["instanceId"] = Invoker.DoubleEncoded("abc"), ["sys"] = new JsonObject { ["MethodName"] = "ListLatestRuns" } },
        }.ToJsonString();
        var (status, reply) = await PostAsync(handler, "ListLatestRuns", envelope);
        Assert.Equal(200, status);
        Assert.Equal(JsonValueKind.Array, reply!["ReturnValue"]!.GetValueKind());
    }

    [Fact]
    public async Task A_failing_invocation_answers_non_2xx_with_the_cause_and_the_handler_keeps_serving()
    {
        var (handler, log) = await StartAsync();
        await using var _h = handler;
        var envelope = new JsonObject { ["Data"] = new JsonObject { ["event"] = Invoker.DoubleEncoded("{\"eventType\":\"Microsoft.Storage.BlobCreated\",\"data\":{\"url\":\"http://elsewhere.example/acct/inbox-x/d/f.csv\"}}") }, ["Metadata"] = new JsonObject() }.ToJsonString();
        var (status, reply) = await PostAsync(handler, "IngestDataset", envelope);
        Assert.Equal(500, status);
        Assert.Contains("not in this app's storage account", reply!["error"]!.GetValue<string>());
        var (healthStatus, _) = await PostAsync(handler, "Health", """{"Data":{"req":{"Url":"http://x/api/health","Method":"GET","Query":{},"Headers":{},"Params":{},"Body":""}},"Metadata":{}}""");
        Assert.Equal(200, healthStatus);
        Assert.Contains(log, l => l.Contains("IngestDataset failed", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ScoreBatch_refuses_more_rows_than_the_limit_with_413()
    {
        var settings = AppLayout.Settings(azurite.ConnectionString);
        settings["FINSERVERLESS_SCORE_MAX_ROWS"] = "2";
        await using var handler = await HandlerProcess.StartAsync(FunctionApp.Load(AppLayout.AppRoot), settings, _ => { }, CancellationToken.None);
        var body = JsonSerializer.Serialize(new { model = "m@champion", rows = new[] { new { a = 1 }, new { a = 2 }, new { a = 3 } } });
        var envelope = new JsonObject { ["Data"] = new JsonObject { ["req"] = new JsonObject { ["Url"] = "http://x/api/score", ["Method"] = "POST", ["Body"] = body } }, ["Metadata"] = new JsonObject() }.ToJsonString();
        var (_, reply) = await PostAsync(handler, "ScoreBatch", envelope);
        Assert.Equal("413", reply!["Outputs"]!["res"]!["statusCode"]!.GetValue<string>());
        Assert.Contains("FINSERVERLESS_SCORE_MAX_ROWS", reply["Outputs"]!["res"]!["body"]!["error"]!["message"]!.GetValue<string>());
    }
}
