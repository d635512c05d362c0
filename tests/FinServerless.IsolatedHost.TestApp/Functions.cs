using System.Net;
using System.Text.Json;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;

namespace FinServerless.IsolatedHost.TestApp;

/// <summary>Queue and blob functions: trigger metadata, output bindings, failures, a crashing worker.</summary>
public static class StorageFunctions
{
    /// <summary>Echoes a queue message with its trigger metadata to <c>echo-out</c>.</summary>
    [Function("Echo")]
    [QueueOutput("echo-out")]
    public static string Echo([QueueTrigger("echo-in")] string message, long dequeueCount, string id, DateTimeOffset insertionTime, FunctionContext context)
    {
        context.GetLogger("Echo").LogInformation("echo of message {Id}", id);
        return JsonSerializer.Serialize(new { message, dequeueCount, id, insertionTime, invocationId = context.InvocationId });
    }

    /// <summary>Always throws: its messages end in <c>fail-in-poison</c> after host.json's maxDequeueCount.</summary>
    [Function("AlwaysFails")]
    public static void AlwaysFails([QueueTrigger("fail-in")] string message, long dequeueCount, FunctionContext context)
    {
        context.GetLogger("AlwaysFails").LogWarning("attempt {Attempt} fails on purpose", dequeueCount);
        throw new InvalidOperationException($"attempt {dequeueCount} fails on purpose");
    }

    /// <summary>Ends the worker process on a message's first delivery; the retry (after the host restarts the worker) succeeds.</summary>
    [Function("Crash")]
    [BlobOutput("crash-out/{queueTrigger}.json")]
    public static string Crash([QueueTrigger("crash-in")] string message, long dequeueCount)
    {
        if (dequeueCount == 1)
        {
            Environment.Exit(3);
        }

        return JsonSerializer.Serialize(new { message, dequeueCount, pid = Environment.ProcessId });
    }

    /// <summary>A blob trigger bound to a BlobClient (deferred binding); copies the blob, upper-cased, to <c>blob-out</c>.</summary>
    [Function("BlobCopy")]
    [BlobOutput("blob-out/{name}")]
    public static async Task<string> BlobCopy([BlobTrigger("blob-in/{name}")] BlobClient blob, string name)
    {
        var content = (await blob.DownloadContentAsync()).Value.Content.ToString();
        return $"{name}:{content.ToUpperInvariant()}";
    }

    /// <summary>Waits until cancelled (the caller went away), then records that the token fired.</summary>
    [Function("Slow")]
    public static async Task<IActionResult> Slow([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "slow/{tag}")] HttpRequest request, string tag, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(TimeSpan.FromMinutes(5), cancellationToken);
            return new OkResult();
        }
        catch (OperationCanceledException)
        {
            var container = new BlobContainerClient(Environment.GetEnvironmentVariable("AzureWebJobsStorage"), "cancelled");
            await container.CreateIfNotExistsAsync(cancellationToken: CancellationToken.None);
            await container.GetBlobClient(tag).UploadAsync(BinaryData.FromString("cancelled"), overwrite: true, CancellationToken.None);
            throw;
        }
    }
}

/// <summary>HTTP functions through the ASP.NET Core integration.</summary>
public static class HttpFunctions
{
    /// <summary>Echoes the method, route value, query, a header and the body, with a chosen status and a custom header.</summary>
    [Function("HttpEcho")]
    public static async Task<IActionResult> HttpEcho([HttpTrigger(AuthorizationLevel.Anonymous, "get", "post", Route = "echo/{id}")] HttpRequest request, string id)
    {
        var body = await new StreamReader(request.Body).ReadToEndAsync();
        var status = int.TryParse(request.Query["status"], out var s) ? s : 200;
        request.HttpContext.Response.Headers["x-echo-id"] = id;
        return new ContentResult
        {
            StatusCode = status,
            ContentType = "application/json",
            Content = JsonSerializer.Serialize(new { method = request.Method, id, query = request.Query["q"].ToString(), header = request.Headers["x-test"].ToString(), body }),
        };
    }

    /// <summary>Sleeps <c>?ms=</c> milliseconds (ignoring cancellation, as work that must finish does) and says so: an invocation in flight for stop tests.</summary>
    [Function("Sleep")]
    public static async Task<IActionResult> Sleep([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "sleep")] HttpRequest request)
    {
        var ms = int.TryParse(request.Query["ms"], out var value) ? Math.Clamp(value, 0, 600_000) : 1000;
        await Task.Delay(ms);
        return new OkObjectResult(new { slept = ms });
    }

    /// <summary>A function with a function-level key.</summary>
    [Function("Keyed")]
    public static IActionResult Keyed([HttpTrigger(AuthorizationLevel.Function, "get", Route = "keyed")] HttpRequest request) => new OkObjectResult("keyed");

    /// <summary>Throws: the caller gets a 500.</summary>
    [Function("HttpThrow")]
    public static IActionResult HttpThrow([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "throw")] HttpRequest request)
        => throw new InvalidOperationException("this function fails on purpose");

    /// <summary>Starts the fan-out orchestration and answers 202 with the status URLs, as Durable Functions does.</summary>
    [Function("StartFanOut")]
    public static async Task<HttpResponseData> StartFanOut(
        [HttpTrigger(AuthorizationLevel.Anonymous, "post", Route = "fanout/{count:int}")] HttpRequestData request, int count, [DurableClient] DurableTaskClient client)
    {
        var id = await client.ScheduleNewOrchestrationInstanceAsync(nameof(DurableFunctions.FanOut), count);
        return await client.CreateCheckStatusResponseAsync(request, id);
    }
}

/// <summary>A durable fan-out/fan-in and a failing activity.</summary>
public static class DurableFunctions
{
    /// <summary>Squares 0..count-1 in parallel activities and returns the sum.</summary>
    [Function(nameof(FanOut))]
    public static async Task<long> FanOut([OrchestrationTrigger] TaskOrchestrationContext context)
    {
        var count = context.GetInput<int>();
        var retry = new TaskOptions(new TaskRetryOptions(new RetryPolicy(3, TimeSpan.FromSeconds(1))));
        var squares = await Task.WhenAll(Enumerable.Range(0, count).Select(i => context.CallActivityAsync<long>(nameof(Square), new SquareInput(context.InstanceId, i), retry)));
        context.SetCustomStatus(new { done = squares.Length });
        return squares.Sum();
    }

    /// <summary>Returns i², recording its result once (create-only) under <c>fanout-applied/{instance}/{i}</c>.</summary>
    [Function(nameof(Square))]
    public static async Task<long> Square([ActivityTrigger] SquareInput input)
    {
        var container = new BlobContainerClient(Environment.GetEnvironmentVariable("AzureWebJobsStorage"), "fanout-applied");
        var square = (long)input.I * input.I;
        await container.CreateIfNotExistsAsync();
        try
        {
            await container.GetBlobClient($"{input.Instance}/{input.I}").UploadAsync(
                BinaryData.FromString(square.ToString(System.Globalization.CultureInfo.InvariantCulture)), new BlobUploadOptions { Conditions = new BlobRequestConditions { IfNoneMatch = ETag.All } });
        }
        catch (RequestFailedException ex) when (ex.Status == (int)HttpStatusCode.Conflict)
        {
            // A redelivered activity: its result was applied by the first execution.
        }

        await Task.Delay(Random.Shared.Next(5, 30));
        return square;
    }

    /// <summary>Calls an activity that throws and reports the failure it saw.</summary>
    [Function(nameof(CatchFailure))]
    public static async Task<string> CatchFailure([OrchestrationTrigger] TaskOrchestrationContext context)
    {
        try
        {
            await context.CallActivityAsync<string>(nameof(Boom), "input");
            return "no failure";
        }
        catch (TaskFailedException ex)
        {
            return $"{ex.FailureDetails.ErrorType}: {ex.FailureDetails.ErrorMessage}";
        }
    }

    /// <summary>Throws.</summary>
    [Function(nameof(Boom))]
    public static string Boom([ActivityTrigger] string input) => throw new InvalidOperationException("the activity fails on purpose");
}

/// <summary>One activity's input.</summary>
public sealed record SquareInput(string Instance, int I);

/// <summary>A timer that records each tick.</summary>
public static class TimerFunctions
{
    /// <summary>Every 2 seconds (setting TICK_SCHEDULE): a blob per tick under <c>ticks/</c>.</summary>
    [Function("Tick")]
    public static async Task Tick([TimerTrigger("%TICK_SCHEDULE%")] TimerInfo timer)
    {
        var container = new BlobContainerClient(Environment.GetEnvironmentVariable("AzureWebJobsStorage"), "ticks");
        await container.CreateIfNotExistsAsync();
        await container.GetBlobClient($"{DateTime.UtcNow:yyyyMMddHHmmssfff}-{Guid.NewGuid():N}").UploadAsync(BinaryData.FromString(timer.IsPastDue ? "past-due" : "on-time"));
    }
}

/// <summary>A timer that never fires during a test (once a year): it runs only when asked through /admin/functions.</summary>
public static class ManualFunctions
{
    /// <summary>Records each run under <c>manual-ticks/</c>.</summary>
    [Function("Manual")]
    public static async Task Manual([TimerTrigger("0 0 0 1 1 *")] TimerInfo timer)
    {
        var container = new BlobContainerClient(Environment.GetEnvironmentVariable("AzureWebJobsStorage"), "manual-ticks");
        await container.CreateIfNotExistsAsync();
        await container.GetBlobClient(Guid.NewGuid().ToString("N")).UploadAsync(BinaryData.FromString("manual"));
    }
}

/// <summary>The durable benchmark's two scenarios (bench/results/durable.md), with a trivial activity: they measure the backend.</summary>
public static class BenchmarkFunctions
{
    /// <summary>Five sequential activities.</summary>
    [Function(nameof(Chain))]
    public static async Task<int> Chain([OrchestrationTrigger] TaskOrchestrationContext context)
    {
        var x = context.GetInput<int>();
        for (var i = 0; i < 5; i++)
        {
            x = await context.CallActivityAsync<int>(nameof(Inc), x);
        }

        return x;
    }

    /// <summary>One activity per item, in parallel; the sum of the results.</summary>
    [Function(nameof(FanOutInc))]
    public static async Task<long> FanOutInc([OrchestrationTrigger] TaskOrchestrationContext context) =>
        (await Task.WhenAll(Enumerable.Range(0, context.GetInput<int>()).Select(i => context.CallActivityAsync<int>(nameof(Inc), i)))).Sum(x => (long)x);

    /// <summary>x + 1.</summary>
    [Function(nameof(Inc))]
    public static int Inc([ActivityTrigger] int x) => x + 1;
}

/// <summary>A durable entity (a counter) and an orchestration that calls it.</summary>
public static class EntityFunctions
{
    /// <summary>The counter entity: operations <c>add</c> and <c>get</c>.</summary>
    [Function(nameof(Counter))]
    public static Task Counter([EntityTrigger] TaskEntityDispatcher dispatcher) => dispatcher.DispatchAsync<CounterEntity>();

    /// <summary>Adds 1 to the counter of this instance <c>input</c> times (calls, one after the other), then reads it.</summary>
    [Function(nameof(CountTo))]
    public static async Task<int> CountTo([OrchestrationTrigger] TaskOrchestrationContext context)
    {
        var entity = new Microsoft.DurableTask.Entities.EntityInstanceId(nameof(Counter), context.InstanceId);
        for (var i = 0; i < context.GetInput<int>(); i++)
        {
            await context.Entities.CallEntityAsync(entity, "add", 1);
        }

        return await context.Entities.CallEntityAsync<int>(entity, "get");
    }
}

/// <summary>The counter's state and operations.</summary>
public sealed class CounterEntity : Microsoft.DurableTask.Entities.TaskEntity<int>
{
    /// <summary>Adds <paramref name="amount"/>.</summary>
    public void Add(int amount) => State += amount;

    /// <summary>The count.</summary>
    public int Get() => State;
}
