using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace FinServerless.IsolatedHost.Tests;

/// <summary>The host against the real worker and extensions on Azurite: the handshake, each trigger and binding kind, HTTP through the proxy, durable, timers, the admin API.</summary>
public sealed class HostTests(HostFixture fixture) : IClassFixture<HostFixture>
{
    [Fact]
    public async Task The_handshake_indexes_and_loads_every_function_of_the_worker()
    {
        Assert.Equal(
            ["AlwaysFails", "BlobCopy", "Boom", "CatchFailure", "Chain", "CountTo", "Counter", "Crash", "Echo", "FanOut", "FanOutInc", "HttpEcho", "HttpThrow", "Inc", "Keyed", "Manual", "Sleep", "Slow", "Square", "StartFanOut", "Tick"],
            fixture.Host.FunctionNames.Order(StringComparer.Ordinal));
        var status = await TestApp.StatusAsync(fixture.Http);
        Assert.Equal("Running", status["state"]!.GetValue<string>());
        Assert.True(status["workerProcessId"]!.GetValue<int>() > 0);
    }

    [Fact]
    public async Task A_queue_message_reaches_the_worker_with_its_trigger_metadata_and_the_return_goes_to_the_output_queue()
    {
        var input = fixture.Queues.GetQueueClient("echo-in");
        await input.CreateIfNotExistsAsync();
        var sent = (await input.SendMessageAsync("hello from a test")).Value;

        var echoed = JsonNode.Parse(await TestApp.EventuallyAsync("the echo", () => TestApp.ReceiveAsync(fixture.Queues.GetQueueClient("echo-out"))))!;
        Assert.Equal("hello from a test", echoed["message"]!.GetValue<string>());
        Assert.Equal(1, echoed["dequeueCount"]!.GetValue<long>());
        Assert.Equal(sent.MessageId, echoed["id"]!.GetValue<string>());
        Assert.True(DateTimeOffset.UtcNow - echoed["insertionTime"]!.GetValue<DateTimeOffset>() < TimeSpan.FromMinutes(5));

        var invocation = echoed["invocationId"]!.GetValue<string>();
        var line = await TestApp.EventuallyAsync("the invocation's log line", () => Task.FromResult(fixture.Log.FirstOrDefault(l => l.Contains($"invocation {invocation}", StringComparison.Ordinal) && l.Contains("Host.Function", StringComparison.Ordinal))));
        Assert.Contains("Echo (queueTrigger echo-in) succeeded in", line, StringComparison.Ordinal);
        Assert.Contains(fixture.Log, l => l.StartsWith("Information Worker:", StringComparison.Ordinal) && l.Contains($"(invocation {invocation})", StringComparison.Ordinal));
        Assert.DoesNotContain(fixture.Log, l => l.Contains("hello from a test", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_message_that_always_fails_lands_in_poison_after_host_json_max_dequeue_count_and_the_host_keeps_serving()
    {
        var input = fixture.Queues.GetQueueClient("fail-in");
        await input.CreateIfNotExistsAsync();
        await input.SendMessageAsync("doomed message");

        var poisoned = await TestApp.EventuallyAsync("the poison message", () => TestApp.ReceiveAsync(fixture.Queues.GetQueueClient("fail-in-poison")));
        Assert.Equal("doomed message", poisoned);
        // host.json sets maxDequeueCount 3 (the default is 5): three attempts, then poison.
        Assert.Equal(3, fixture.Log.Count(l => l.Contains("AlwaysFails (queueTrigger fail-in) failed", StringComparison.Ordinal)));
        Assert.Contains(fixture.Log, l => l.Contains("AlwaysFails (queueTrigger fail-in) failed", StringComparison.Ordinal) && l.Contains("the function threw System.InvalidOperationException", StringComparison.Ordinal));

        var response = await fixture.Http.GetAsync("api/echo/after-poison");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task A_blob_trigger_binds_a_blob_client_and_its_return_is_written_by_the_blob_output_binding()
    {
        var container = fixture.Blobs.GetBlobContainerClient("blob-in");
        await container.CreateIfNotExistsAsync();
        await container.GetBlobClient("report.txt").UploadAsync(BinaryData.FromString("quarterly"), overwrite: true);

        var output = fixture.Blobs.GetBlobContainerClient("blob-out").GetBlobClient("report.txt");
        var content = await TestApp.EventuallyAsync("the copied blob", async () => await output.ExistsAsync() ? (await output.DownloadContentAsync()).Value.Content.ToString() : null, TimeSpan.FromSeconds(90));
        Assert.Equal("report.txt:QUARTERLY", content);
    }

    [Fact]
    public async Task Http_status_headers_and_bodies_round_trip_through_the_worker()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "api/echo/42?q=risk&status=201") { Content = new StringContent("{\"applicant\":7}", Encoding.UTF8, "application/json") };
        request.Headers.Add("x-test", "header-value");
        var response = await fixture.Http.SendAsync(request);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        Assert.Equal("42", response.Headers.GetValues("x-echo-id").Single());
        Assert.Equal("application/json", response.Content.Headers.ContentType!.MediaType);
        var body = await TestApp.JsonAsync(response);
        Assert.Equal("POST", body["method"]!.GetValue<string>());
        Assert.Equal("42", body["id"]!.GetValue<string>());
        Assert.Equal("risk", body["query"]!.GetValue<string>());
        Assert.Equal("header-value", body["header"]!.GetValue<string>());
        Assert.Equal("{\"applicant\":7}", body["body"]!.GetValue<string>());

        var large = new string('x', 1024 * 1024);
        var echoed = await TestApp.JsonAsync(await fixture.Http.PostAsync("api/echo/big", new StringContent(large)));
        Assert.Equal(large, echoed["body"]!.GetValue<string>());

        // A body sent chunked, without a Content-Length (HttpClient's JSON content, curl -H 'Transfer-Encoding: chunked').
        using var chunked = new StreamContent(new NonSeekable(Encoding.UTF8.GetBytes("{\"partner\":\"demo\"}")));
        chunked.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        var chunkedRequest = new HttpRequestMessage(HttpMethod.Post, "api/echo/chunked") { Content = chunked };
        chunkedRequest.Headers.TransferEncodingChunked = true;
        var echoedChunked = await TestApp.JsonAsync(await fixture.Http.SendAsync(chunkedRequest));
        Assert.Equal("{\"partner\":\"demo\"}", echoedChunked["body"]!.GetValue<string>());

        var parallel = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i => (await TestApp.JsonAsync(await fixture.Http.GetAsync($"api/echo/p{i}")))["id"]!.GetValue<string>()));
        Assert.Equal(Enumerable.Range(0, 20).Select(i => $"p{i}"), parallel);

        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Http.GetAsync("api/no-such-route")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Http.DeleteAsync("api/echo/42")).StatusCode);
        Assert.Equal(HttpStatusCode.InternalServerError, (await fixture.Http.GetAsync("api/throw")).StatusCode);
    }

    [Fact]
    public async Task Functions_with_a_function_key_need_it_and_the_admin_api_needs_the_master_key()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.Http.GetAsync("api/keyed")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fixture.Http.GetAsync("api/keyed?code=wrong")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await fixture.Http.GetAsync($"api/keyed?code={TestApp.FunctionKey}")).StatusCode);
        var withHeader = new HttpRequestMessage(HttpMethod.Get, "api/keyed");
        withHeader.Headers.Add("x-functions-key", TestApp.MasterKey);
        Assert.Equal(HttpStatusCode.OK, (await fixture.Http.SendAsync(withHeader)).StatusCode);

        Assert.Equal(HttpStatusCode.Unauthorized, (await TestApp.PostJsonAsync(fixture.Http, "admin/functions/Manual", new { input = "" })).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await TestApp.PostJsonAsync(fixture.Http, "admin/functions/Manual", new { input = "" }, TestApp.FunctionKey)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await TestApp.PostJsonAsync(fixture.Http, "admin/functions/NoSuchFunction", new { input = "" }, TestApp.MasterKey)).StatusCode);
    }

    [Fact]
    public async Task A_durable_start_over_http_answers_202_with_status_urls_and_the_fan_out_completes()
    {
        var response = await fixture.Http.PostAsync("api/fanout/50", null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var urls = await TestApp.JsonAsync(response);
        // The isolated worker's serializer names them in Pascal case (StatusQueryGetUri); match as a client would, ignoring case.
        string Url(string name) => urls.First(p => p.Key.Equals(name, StringComparison.OrdinalIgnoreCase)).Value!.GetValue<string>();
        var statusUri = Url("statusQueryGetUri");
        Assert.StartsWith(fixture.Host.BaseAddress + "runtime/webhooks/durabletask/instances/", statusUri, StringComparison.Ordinal);
        Assert.Equal(statusUri.Split('?')[0], response.Headers.Location!.ToString().Split('?')[0]);
        Assert.StartsWith(statusUri.Split('?')[0], Url("sendEventPostUri"), StringComparison.Ordinal);
        Assert.StartsWith(statusUri.Split('?')[0], Url("terminatePostUri"), StringComparison.Ordinal);

        var status = await TestApp.CompletedAsync(fixture.Http, statusUri, TimeSpan.FromMinutes(2));
        Assert.Equal("Completed", status["runtimeStatus"]!.GetValue<string>());
        Assert.Equal(Enumerable.Range(0, 50).Sum(i => (long)i * i), status["output"]!.GetValue<long>());
        Assert.Equal(50, status["customStatus"]!["done"]!.GetValue<int>());

        Assert.Equal(HttpStatusCode.NotFound, (await fixture.Http.GetAsync("runtime/webhooks/durabletask/instances/no-such-instance")).StatusCode);
    }

    [Fact]
    public async Task An_entity_trigger_serves_the_calls_of_an_orchestration_and_keeps_its_state()
    {
        var response = await fixture.Http.PostAsync("runtime/webhooks/durabletask/orchestrators/CountTo", new StringContent("5", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var status = await TestApp.CompletedAsync(fixture.Http, (await TestApp.JsonAsync(response))["statusQueryGetUri"]!.GetValue<string>(), TimeSpan.FromMinutes(2));
        Assert.True(status["runtimeStatus"]!.GetValue<string>() == "Completed", status.ToJsonString());
        Assert.Equal(5, status["output"]!.GetValue<int>());
        Assert.Contains(fixture.Log, l => l.Contains("Counter (entityTrigger", StringComparison.Ordinal) && l.Contains("succeeded", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failing_activity_reaches_the_orchestrator_with_its_real_type_and_message()
    {
        var response = await fixture.Http.PostAsync("runtime/webhooks/durabletask/orchestrators/CatchFailure", null);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        // The extension's own HTTP API answers in camel case, as Durable Functions does.
        var status = await TestApp.CompletedAsync(fixture.Http, (await TestApp.JsonAsync(response))["statusQueryGetUri"]!.GetValue<string>(), TimeSpan.FromMinutes(1));
        Assert.Equal("System.InvalidOperationException: the activity fails on purpose", status["output"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_timer_fires_on_its_schedule_and_a_timer_runs_when_asked_through_the_admin_api()
    {
        var ticks = fixture.Blobs.GetBlobContainerClient("ticks");
        var before = await TestApp.CountAsync(ticks);
        await TestApp.EventuallyAsync("two ticks of the 2-second timer", async () => await TestApp.CountAsync(ticks) >= before + 2 ? "ok" : null, TimeSpan.FromSeconds(20));

        var manual = fixture.Blobs.GetBlobContainerClient("manual-ticks");
        Assert.Equal(0, await TestApp.CountAsync(manual));
        var response = await TestApp.PostJsonAsync(fixture.Http, "admin/functions/manual", new { input = "" }, TestApp.MasterKey);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await TestApp.EventuallyAsync("the manual run", async () => await TestApp.CountAsync(manual) == 1 ? "ok" : null, TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task A_queue_function_runs_through_the_admin_api_with_the_input_as_its_message()
    {
        var response = await TestApp.PostJsonAsync(fixture.Http, "admin/functions/Echo", new { input = "admin-ping" }, TestApp.MasterKey);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var echoed = await TestApp.EventuallyAsync("the echo of the admin run", async () =>
            await TestApp.ReceiveAsync(fixture.Queues.GetQueueClient("echo-out")) is { } m && JsonNode.Parse(m)!["message"]!.GetValue<string>() == "admin-ping" ? m : null);
        Assert.Contains("admin-ping", echoed, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_caller_that_goes_away_cancels_the_invocation_in_the_worker()
    {
        using var impatient = new HttpClient { BaseAddress = fixture.Host.BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        await Assert.ThrowsAnyAsync<Exception>(() => impatient.GetAsync("api/slow/gone-away"));
        var marker = fixture.Blobs.GetBlobContainerClient("cancelled").GetBlobClient("gone-away");
        await TestApp.EventuallyAsync("the function's cancellation token to fire", async () => await marker.ExistsAsync() ? "ok" : null, TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task A_worker_that_dies_is_restarted_and_the_message_it_was_handling_is_retried()
    {
        var before = await TestApp.StatusAsync(fixture.Http);
        var firstPid = before["workerProcessId"]!.GetValue<int>();
        var input = fixture.Queues.GetQueueClient("crash-in");
        await input.CreateIfNotExistsAsync();
        await input.SendMessageAsync("crash-once");

        var output = fixture.Blobs.GetBlobContainerClient("crash-out").GetBlobClient("crash-once.json");
        var content = await TestApp.EventuallyAsync("the retried message's output", async () => await output.ExistsAsync() ? (await output.DownloadContentAsync()).Value.Content.ToString() : null, TimeSpan.FromSeconds(90));
        var result = JsonNode.Parse(content)!;
        Assert.Equal(2, result["dequeueCount"]!.GetValue<long>());
        Assert.NotEqual(firstPid, result["pid"]!.GetValue<int>());

        var after = await TestApp.StatusAsync(fixture.Http);
        Assert.True(after["workerRestarts"]!.GetValue<int>() >= 1);
        Assert.False(File.Exists($"/proc/{firstPid}/stat") && !File.ReadAllText($"/proc/{firstPid}/stat").Contains(" Z ", StringComparison.Ordinal), "the dead worker's process is gone");
        Assert.Contains(fixture.Log, l => l.Contains("Crash (queueTrigger crash-in) failed", StringComparison.Ordinal) && l.Contains("the worker process exited", StringComparison.Ordinal));
        Assert.Equal(HttpStatusCode.OK, (await fixture.Http.GetAsync("api/echo/after-restart")).StatusCode);
    }

    [Fact]
    public async Task A_new_blob_version_in_an_inbox_container_becomes_one_blob_created_event_on_ingest_events()
    {
        var inbox = fixture.Blobs.GetBlobContainerClient("inbox-acme");
        await inbox.CreateIfNotExistsAsync();
        var events = fixture.Queues.GetQueueClient("ingest-events");
        await inbox.GetBlobClient("loans/2026-12.csv").UploadAsync(BinaryData.FromString("id,amount\n1,100\n"), overwrite: true);

        var first = JsonNode.Parse(await TestApp.EventuallyAsync("the BlobCreated event", () => TestApp.ReceiveAsync(events)))!;
        Assert.Equal("Microsoft.Storage.BlobCreated", first["eventType"]!.GetValue<string>());
        Assert.Equal("/blobServices/default/containers/inbox-acme/blobs/loans/2026-12.csv", first["subject"]!.GetValue<string>());
        Assert.EndsWith("/inbox-acme/loans/2026-12.csv", first["data"]!["url"]!.GetValue<string>(), StringComparison.Ordinal);

        // The same blob, unchanged, is not announced again; a new version is.
        await Task.Delay(TimeSpan.FromSeconds(3));
        Assert.Null(await TestApp.ReceiveAsync(events));
        await inbox.GetBlobClient("loans/2026-12.csv").UploadAsync(BinaryData.FromString("id,amount\n1,100\n2,200\n"), overwrite: true);
        var second = JsonNode.Parse(await TestApp.EventuallyAsync("the second version's event", () => TestApp.ReceiveAsync(events)))!;
        Assert.NotEqual(first["data"]!["eTag"]!.GetValue<string>(), second["data"]!["eTag"]!.GetValue<string>());
    }
}

/// <summary>A read-only stream of unknown length, so HttpClient sends it chunked.</summary>
internal sealed class NonSeekable(byte[] content) : MemoryStream(content, writable: false)
{
    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();
}
