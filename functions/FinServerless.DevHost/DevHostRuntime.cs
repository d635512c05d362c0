using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using FinServerless.Durable.Backend;
using FinServerless.Durable.Http;
using FinServerless.Durable.Protocol;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using FinServerless.Connections;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FinServerless.DevHost;

/// <summary>How to run the dev host.</summary>
public sealed record DevHostOptions
{
    /// <summary>The function app folder (host.json, function folders, the handler).</summary>
    public required string AppRoot { get; init; }

    /// <summary>App settings (local.settings.json's Values, plus anything the caller adds).</summary>
    public required IReadOnlyDictionary<string, string> Settings { get; init; }

    /// <summary>Port of the front door (0: a free one).</summary>
    public int Port { get; init; }

    /// <summary>How often the inbox watcher lists inbox-* containers.</summary>
    public TimeSpan WatchInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Log sink (one line per invocation, trigger and lifecycle event).</summary>
    public Action<string> Log { get; init; } = Console.WriteLine;

    /// <summary>How long a stop waits for invocations in flight to finish before it cancels them.</summary>
    public TimeSpan StopGracePeriod { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long the handler and the processes it started (local training jobs) get after SIGTERM before SIGKILL.</summary>
    public TimeSpan ChildStopTimeout { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// The dev host: plays the Functions host's part for the custom handler on Azurite — HTTP front door for /api/*,
/// /admin/functions/{name} and the durable API; queue triggers with visibility timeout, dequeue count and a poison
/// queue; six-field NCRONTAB timers; an inbox watcher emitting one BlobCreated event per new blob version; and the
/// durable backend that calls orchestrators and activities through the same envelopes.
/// </summary>
public sealed class DevHostRuntime : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new(); // no new work: triggers, pollers and the watcher stop taking it
    private readonly CancellationTokenSource _abort = new(); // invocations in flight are cancelled (after the grace period)
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _draining;
    private int _stopping;
    private readonly List<Task> _loops = [];
    private readonly DevHostOptions _options;
    private FunctionApp _app = null!;
    private HandlerProcess _handler = null!;
    private Invoker _invoker = null!;
    private WebApplication _web = null!;
    private BlobServiceClient _blobs = null!;
    private QueueServiceClient _queues = null!;

    private DevHostRuntime(DevHostOptions options) => _options = options;

    /// <summary>Where the front door listens (http://127.0.0.1:{port}/).</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The durable task hub.</summary>
    public StorageTaskHub Hub { get; private set; } = null!;

    private long _maxRequestBody = 100L * 1024 * 1024;

    private string? Setting(string name) => _options.Settings.TryGetValue(name, out var v) ? v : Environment.GetEnvironmentVariable(name);

    private void Log(string line) => _options.Log($"[{DateTime.UtcNow:HH:mm:ss.fff}] {line}");

    /// <summary>Starts everything; returns when the front door, the handler and every trigger are running.</summary>
    public static async Task<DevHostRuntime> StartAsync(DevHostOptions options, CancellationToken cancellationToken = default)
    {
        var host = new DevHostRuntime(options);
        try
        {
            await host.StartCoreAsync(cancellationToken).ConfigureAwait(false);
            return host;
        }
        catch
        {
            await host.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        _app = FunctionApp.Load(_options.AppRoot);
        if (Setting("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT") is { Length: > 0 } limit)
        {
            _maxRequestBody = long.TryParse(limit, CultureInfo.InvariantCulture, out var bytes) && bytes > 0
                ? bytes
                : throw new InvalidOperationException($"Setting FUNCTIONS_REQUEST_BODY_SIZE_LIMIT must be a positive number of bytes (got '{limit}').");
        }

        var connection = StorageConnection.FromSettings("AzureWebJobsStorage", Setting);
        _blobs = connection.CreateBlobServiceClient();
        var encoding = (_app.QueueSetting("messageEncoding")?.GetValue<string>() ?? "base64") == "none" ? QueueMessageEncoding.None : QueueMessageEncoding.Base64;
        _queues = connection.CreateQueueServiceClient(encoding);
        Log($"function app {_app.Root}: {_app.Functions.Count} functions ({string.Join(", ", _app.Functions.Select(f => $"{f.Name}:{f.TriggerType}"))})");

        _handler = await HandlerProcess.StartAsync(_app, _options.Settings, Log, cancellationToken).ConfigureAwait(false);
        Log($"handler ready on port {_handler.Port} (pid {_handler.ProcessId})");
        _invoker = new Invoker(_handler, _queues, Setting, Log);

        Hub = new StorageTaskHub(connection, _app.DurableOptions(Log));
        await Hub.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, EmbeddedLifetime>(); // signals are the dev host's to handle (StopAsync), not the web server's
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(System.Net.IPAddress.Loopback, _options.Port);
            k.Limits.MaxRequestBodySize = _maxRequestBody;
        });
        _web = builder.Build();
        _web.Use(RefuseWhileStoppingAsync);
        _web.MapDurableManagementApi(Hub);
        _web.MapPost("/admin/functions/{name}", FireAsync);
        _web.MapGet("/admin/host/status", () => Results.Ok(new { state = "Running", functions = _app.Functions.Select(f => f.Name) }));
        _web.Map("/api/{**path}", HttpTriggerAsync);
        await _web.StartAsync(cancellationToken).ConfigureAwait(false);
        BaseAddress = new Uri(_web.Urls.First().Replace("localhost", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/') + "/");
        Log($"listening on {BaseAddress} (/api/*, /admin/functions/{{name}}, /runtime/webhooks/durabletask/*)");

        _loops.Add(Hub.RunAsync(InvokeOrchestratorAsync, InvokeActivityAsync, _stop.Token, _abort.Token));
        foreach (var f in _app.Functions.Where(f => f.TriggerType == "queueTrigger"))
        {
            _loops.Add(Task.Run(() => QueueLoopAsync(f, _stop.Token)));
        }

        foreach (var f in _app.Functions.Where(f => f.TriggerType == "timerTrigger"))
        {
            _loops.Add(Task.Run(() => TimerLoopAsync(f, _stop.Token)));
        }

        _loops.Add(Task.Run(() => new FinServerless.IsolatedHost.InboxEvents(_blobs, _queues, Log) { Interval = _options.WatchInterval }.RunAsync(_stop.Token)));
    }

    // ---- HTTP -----------------------------------------------------------------------------------------

    private async Task HttpTriggerAsync(HttpContext http, string? path)
    {
        var segments = (path ?? string.Empty).Split('/', StringSplitOptions.RemoveEmptyEntries);
        foreach (var f in _app.Functions.Where(f => f.TriggerType == "httpTrigger"))
        {
            var trigger = f.Trigger;
            var methods = trigger["methods"]?.AsArray().Select(m => m!.GetValue<string>().ToUpperInvariant()).ToList();
            if (methods is not null && !methods.Contains(http.Request.Method.ToUpperInvariant()))
            {
                continue;
            }

            var route = FunctionDefinition.Get(trigger, "route") ?? f.Name;
            if (MatchRoute(route, segments) is not { } parameters)
            {
                continue;
            }

            // The Functions host's request body limit (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT, 100 MB by default): 413 beyond,
            // from the declared length before anything is read, or from Kestrel while reading a chunked body.
            if (http.Request.ContentLength > _maxRequestBody)
            {
                await TooLargeAsync(http).ConfigureAwait(false);
                return;
            }

            string body;
            try
            {
                using var reader = new StreamReader(http.Request.Body);
                body = await reader.ReadToEndAsync(http.RequestAborted).ConfigureAwait(false);
            }
            catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
            {
                await TooLargeAsync(http).ConfigureAwait(false);
                return;
            }

            var req = new JsonObject
            {
                ["Url"] = $"{BaseAddress.AbsoluteUri.TrimEnd('/')}{http.Request.Path}{http.Request.QueryString}",
                ["Method"] = http.Request.Method,
                ["Query"] = new JsonObject(http.Request.Query.Select(q => KeyValuePair.Create(q.Key, (JsonNode?)JsonValue.Create(q.Value.ToString())))),
                ["Headers"] = new JsonObject(http.Request.Headers.Select(h => KeyValuePair.Create(h.Key, (JsonNode?)new JsonArray(h.Value.Select(v => (JsonNode?)JsonValue.Create(v)).ToArray())))),
                ["Params"] = new JsonObject(parameters.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value)))),
                ["Identities"] = new JsonArray(),
                ["Body"] = body,
            };
            var data = new JsonObject { [FunctionDefinition.Get(trigger, "name")!] = req };
            AddDurableClients(f, data);
            using var invocation = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, _abort.Token);
            var result = await _invoker.InvokeAsync(f, data, new JsonObject(parameters.Select(p => KeyValuePair.Create(p.Key, (JsonNode?)JsonValue.Create(p.Value)))), invocation.Token).ConfigureAwait(false);
            if (!result.Succeeded)
            {
                // As the Functions host does: the cause goes to the log, never into the response.
                Log($"{f.Name}: HTTP invocation failed: {result.Error}");
                http.Response.StatusCode = 500;
                await http.Response.WriteAsJsonAsync(new { error = new { code = "FunctionFailed", message = $"{f.Name} failed; the host log has the cause." } }, http.RequestAborted).ConfigureAwait(false);
                return;
            }

            var outName = f.Bindings.FirstOrDefault(b => FunctionDefinition.Get(b, "type") == "http" && FunctionDefinition.Get(b, "direction") == "out") is { } outBinding
                ? FunctionDefinition.Get(outBinding, "name")! : "$return";
            var res = outName == "$return" ? result.ReturnValue : result.Output(outName);
            http.Response.StatusCode = int.TryParse(res?["statusCode"]?.ToString(), CultureInfo.InvariantCulture, out var code) ? code : 200;
            foreach (var (k, v) in res?["headers"]?.AsObject() ?? [])
            {
                http.Response.Headers[k] = v?.ToString();
            }

            var payload = res?["body"];
            if (payload is not null)
            {
                var text = payload.GetValueKind() == JsonValueKind.String ? payload.GetValue<string>() : payload.ToJsonString();
                await http.Response.WriteAsync(text, http.RequestAborted).ConfigureAwait(false);
            }

            return;
        }

        http.Response.StatusCode = 404;
        await http.Response.WriteAsJsonAsync(new { error = $"No function serves {http.Request.Method} /api/{path}." }, http.RequestAborted).ConfigureAwait(false);
    }

    private Task TooLargeAsync(HttpContext http)
    {
        http.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
        return http.Response.WriteAsJsonAsync(new { error = new { code = "BodyTooLarge", message = $"The request body exceeds the host's limit of {_maxRequestBody:N0} bytes (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT)." } }, http.RequestAborted);
    }

    private static Dictionary<string, string>? MatchRoute(string template, string[] segments)
    {
        var parts = template.Split('/', StringSplitOptions.RemoveEmptyEntries);
        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < parts.Length; i++)
        {
            var part = parts[i];
            var isParameter = part.StartsWith('{') && part.EndsWith('}');
            if (i >= segments.Length)
            {
                return isParameter && part.EndsWith("?}", StringComparison.Ordinal) ? values : null;
            }

            if (isParameter)
            {
                values[part.Trim('{', '}', '?')] = Uri.UnescapeDataString(segments[i]);
            }
            else if (!string.Equals(part, segments[i], StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }
        }

        return segments.Length == parts.Length ? values : null;
    }

    private void AddDurableClients(FunctionDefinition f, JsonObject data)
    {
        foreach (var b in f.Bindings.Where(b => FunctionDefinition.Get(b, "type") == "durableClient"))
        {
            data[FunctionDefinition.Get(b, "name")!] = Invoker.DurableClientValue(_app.HubName, BaseAddress);
        }
    }

    /// <summary>POST /admin/functions/{name} {"input": "..."}: runs any function now, as the Functions host's admin API does.</summary>
    private async Task<IResult> FireAsync(string name, HttpContext http)
    {
        if (_app[name] is not { } f)
        {
            return Results.NotFound(new { error = $"No function '{name}'." });
        }

        string? input = null;
        if (http.Request.ContentLength is > 0 || http.Request.Headers.ContentType.Count > 0)
        {
            try
            {
                input = (await JsonNode.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted).ConfigureAwait(false))?["input"]?.ToString();
            }
            catch (JsonException)
            {
                return Results.BadRequest(new { error = "The body must be JSON: {\"input\": \"...\"}." });
            }
        }

        var data = new JsonObject
        {
            [FunctionDefinition.Get(f.Trigger, "name")!] = f.TriggerType == "timerTrigger" ? TimerInfo(false) : Invoker.DoubleEncoded(input ?? string.Empty),
        };
        AddDurableClients(f, data);
        _ = Task.Run(() => _invoker.InvokeAsync(f, data, null, _abort.Token));
        return Results.Accepted();
    }

    // ---- Durable ----------------------------------------------------------------------------------------

    private async Task<OrchestratorResponse> InvokeOrchestratorAsync(string name, OrchestratorRequest request, CancellationToken cancellationToken)
    {
        var f = _app[name] is { TriggerType: "orchestrationTrigger" } found ? found
            : throw new InvalidOperationException($"No orchestrator function '{name}' in the app.");
        var base64 = Convert.ToBase64String(Google.Protobuf.MessageExtensions.ToByteArray(request));
        var data = new JsonObject { [FunctionDefinition.Get(f.Trigger, "name")!] = Invoker.DoubleEncoded(base64) };
        var result = await _invoker.InvokeAsync(f, data, new JsonObject { ["instanceId"] = Invoker.DoubleEncoded(request.InstanceId) }, cancellationToken).ConfigureAwait(false);
        if (!result.Succeeded || result.ReturnValue?.GetValueKind() != JsonValueKind.String)
        {
            throw new InvalidOperationException($"Orchestrator '{name}' ({request.InstanceId}) did not answer with a base64 OrchestratorResponse: {result.Error ?? "no ReturnValue string"}");
        }

        return OrchestratorResponse.Parser.ParseFrom(Convert.FromBase64String(result.ReturnValue.GetValue<string>()));
    }

    private async Task<ActivityResult> InvokeActivityAsync(string name, string instanceId, string? input, CancellationToken cancellationToken)
    {
        if (_app[name] is not { TriggerType: "activityTrigger" } f)
        {
            return ActivityResult.Fail("FunctionNotFound", $"No activity function '{name}' in the app.");
        }

        var data = new JsonObject { [FunctionDefinition.Get(f.Trigger, "name")!] = Invoker.DoubleEncoded(input ?? "null") };
        var metadata = new JsonObject
        {
            ["instanceId"] = Invoker.DoubleEncoded(instanceId),
            ["data"] = input is null ? null : JsonNode.Parse(input),
        };
        var result = await _invoker.InvokeAsync(f, data, metadata, cancellationToken).ConfigureAwait(false);
        return result.Succeeded
            ? ActivityResult.Success(result.ReturnValue?.ToJsonString() ?? "null")
            : ActivityResult.Fail("FunctionFailed", $"{name} failed: {result.Error}");
    }

    // ---- Queues -----------------------------------------------------------------------------------------

    private async Task QueueLoopAsync(FunctionDefinition f, CancellationToken cancellationToken)
    {
        var queueName = FunctionApp.Expand(FunctionDefinition.Get(f.Trigger, "queueName")!, Setting);
        var queue = _queues.GetQueueClient(queueName);
        var poison = _queues.GetQueueClient(queueName + "-poison");
        var maxDequeue = _app.QueueSetting("maxDequeueCount")?.GetValue<int>() ?? 5;
        var retryAfter = TimeSpan.Parse(_app.QueueSetting("visibilityTimeout")?.GetValue<string>() ?? "00:00:00", CultureInfo.InvariantCulture);
        var batch = _app.QueueSetting("batchSize")?.GetValue<int>() ?? 16;
        var idle = TimeSpan.FromMilliseconds(100);
        await queue.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        Log($"queue trigger {f.Name} on '{queueName}' (max dequeue {maxDequeue}, retry after {retryAfter.TotalSeconds:0.#} s, poison '{queueName}-poison')");
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                QueueMessage[] messages = await queue.ReceiveMessagesAsync(Math.Clamp(batch, 1, 32), TimeSpan.FromMinutes(10), cancellationToken).ConfigureAwait(false);
                if (messages.Length == 0)
                {
                    await Task.Delay(idle, cancellationToken).ConfigureAwait(false);
                    idle = TimeSpan.FromMilliseconds(Math.Min(1000, idle.TotalMilliseconds * 2));
                    continue;
                }

                idle = TimeSpan.FromMilliseconds(100);
                await Task.WhenAll(messages.Select(m => HandleMessageAsync(f, queue, poison, m, maxDequeue, retryAfter, _abort.Token))).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is Azure.RequestFailedException or HttpRequestException or IOException)
            {
                Log($"queue trigger {f.Name}: {ex.Message}; retrying");
                await Task.Delay(1000, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async Task HandleMessageAsync(FunctionDefinition f, QueueClient queue, QueueClient poison, QueueMessage message, int maxDequeue, TimeSpan retryAfter, CancellationToken cancellationToken)
    {
        var data = new JsonObject { [FunctionDefinition.Get(f.Trigger, "name")!] = Invoker.DoubleEncoded(message.Body.ToString()) };
        var metadata = new JsonObject
        {
            ["DequeueCount"] = Invoker.DoubleEncoded(message.DequeueCount.ToString(CultureInfo.InvariantCulture)),
            ["Id"] = Invoker.DoubleEncoded(message.MessageId),
            ["PopReceipt"] = Invoker.DoubleEncoded(message.PopReceipt),
            ["InsertionTime"] = Invoker.DoubleEncoded(message.InsertedOn?.ToString("o") ?? string.Empty),
            ["ExpirationTime"] = Invoker.DoubleEncoded(message.ExpiresOn?.ToString("o") ?? string.Empty),
            ["NextVisibleTime"] = Invoker.DoubleEncoded(message.NextVisibleOn?.ToString("o") ?? string.Empty),
        };
        InvocationResult result;
        try
        {
            result = await _invoker.InvokeAsync(f, data, metadata, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Cancelled by a stop: hand the message back now rather than when its visibility runs out.
            try
            {
                await queue.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: TimeSpan.Zero, cancellationToken: CancellationToken.None).ConfigureAwait(false);
                Log($"stopping: message {message.MessageId} of '{queue.Name}' handed back to the queue for the next host");
            }
            catch (Azure.RequestFailedException)
            {
                // Its hold ran out meanwhile; it reappears anyway.
            }

            throw;
        }

        if (result.Succeeded)
        {
            await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken).ConfigureAwait(false);
        }
        else if (message.DequeueCount >= maxDequeue)
        {
            await poison.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            await poison.SendMessageAsync(message.Body, cancellationToken: cancellationToken).ConfigureAwait(false);
            await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt, cancellationToken).ConfigureAwait(false);
            Log($"moved message {message.MessageId} of '{queue.Name}' to '{poison.Name}' after {message.DequeueCount} attempts: {result.Error}");
        }
        else
        {
            await queue.UpdateMessageAsync(message.MessageId, message.PopReceipt, visibilityTimeout: retryAfter, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
    }

    // ---- Timers -----------------------------------------------------------------------------------------

    private static JsonNode TimerInfo(bool pastDue) => new JsonObject
    {
        ["Schedule"] = new JsonObject { ["AdjustForDST"] = true },
        ["ScheduleStatus"] = null,
        ["IsPastDue"] = pastDue,
    };

    private async Task TimerLoopAsync(FunctionDefinition f, CancellationToken cancellationToken)
    {
        var schedule = Ncrontab.Parse(FunctionApp.Expand(FunctionDefinition.Get(f.Trigger, "schedule")!, Setting));
        Log($"timer trigger {f.Name}: '{schedule.Text}', next at {schedule.Next(DateTime.UtcNow):u}");
        while (!cancellationToken.IsCancellationRequested)
        {
            var next = schedule.Next(DateTime.UtcNow);
            try
            {
                await Task.Delay(next - DateTime.UtcNow, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            var data = new JsonObject { [FunctionDefinition.Get(f.Trigger, "name")!] = TimerInfo(false) };
            AddDurableClients(f, data);
            await _invoker.InvokeAsync(f, data, null, _abort.Token).ConfigureAwait(false);
        }
    }

    // ---- Stopping ------------------------------------------------------------------------------------------

    /// <summary>While stopping, the front door takes no new work (503); the durable API stays up for the invocations still running.</summary>
    private async Task RefuseWhileStoppingAsync(HttpContext http, RequestDelegate next)
    {
        if (_draining && !http.Request.Path.StartsWithSegments("/runtime/webhooks/durabletask", StringComparison.OrdinalIgnoreCase))
        {
            http.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            http.Response.Headers.RetryAfter = "10";
            http.Response.Headers.Connection = "close";
            await http.Response.WriteAsJsonAsync(new { error = "The dev host is stopping and takes no new work." }, http.RequestAborted).ConfigureAwait(false);
            return;
        }

        await next(http).ConfigureAwait(false);
    }

    /// <summary>Cancels the invocations in flight now instead of at the end of the grace period (a second Ctrl+C or SIGTERM).</summary>
    public void CancelInFlight()
    {
        if (!_abort.IsCancellationRequested)
        {
            Log("cancelling the invocations in flight now");
            _abort.Cancel();
        }
    }

    /// <summary>
    /// Stops the host: takes no new work (HTTP 503, queue and timer triggers, inbox watcher and durable dispatchers
    /// stop taking it), lets the invocations in flight finish for up to <see cref="DevHostOptions.StopGracePeriod"/>
    /// and then cancels them (queue messages go back to their queue, durable work reappears for the next host), stops
    /// the front door, then the handler and every process it started (SIGTERM, then SIGKILL after
    /// <see cref="DevHostOptions.ChildStopTimeout"/>). Safe to call more than once; later calls wait for the first.
    /// </summary>
    public async Task StopAsync(string? reason = null)
    {
        if (Interlocked.Exchange(ref _stopping, 1) == 1)
        {
            await _stopped.Task.ConfigureAwait(false);
            return;
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            _draining = true;
            var grace = _options.StopGracePeriod;
            Log($"stopping{(reason is null ? string.Empty : $" ({reason})")}: taking no new work; waiting up to {grace.TotalSeconds:0.#} s for {_invoker?.InFlight ?? 0} invocation(s) in flight");
            await _stop.CancelAsync().ConfigureAwait(false);
            if (await DrainAsync(grace).ConfigureAwait(false))
            {
                Log("stopping: nothing left in flight");
            }
            else
            {
                Log($"stopping: grace period of {grace.TotalSeconds:0.#} s over; cancelling {_invoker?.InFlight ?? 0} invocation(s) still running");
            }

            await _abort.CancelAsync().ConfigureAwait(false);
            if (!await DrainAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false))
            {
                Log($"stopping: {_invoker?.InFlight ?? 0} invocation(s) did not end after cancellation; the handler is stopped under them");
            }

            if (_web is not null)
            {
                using var web = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                try
                {
                    await _web.StopAsync(web.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }

                await _web.DisposeAsync().ConfigureAwait(false);
            }

            if (_handler is not null)
            {
                Log($"stopping: {await _handler.StopAsync(_options.ChildStopTimeout).ConfigureAwait(false)}");
                await _handler.DisposeAsync().ConfigureAwait(false);
            }

            Log($"stopped in {clock.Elapsed.TotalSeconds:0.0} s");
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }

    /// <summary>Waits for the trigger loops to end and the invocations in flight to be answered; false when <paramref name="within"/> ran out first.</summary>
    private async Task<bool> DrainAsync(TimeSpan within)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        try
        {
            await Task.WhenAll(_loops).WaitAsync(within).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return false;
        }
        catch (Exception ex) when (ex is OperationCanceledException or Azure.RequestFailedException or HttpRequestException or IOException or InvalidOperationException)
        {
            // A loop ended cancelled or failed; what it held reappears for the next host.
        }

        while (_invoker is { InFlight: > 0 })
        {
            if (clock.Elapsed >= within)
            {
                return false;
            }

            await Task.Delay(50).ConfigureAwait(false);
        }

        return true;
    }

    /// <summary>The front door's host lifetime: no console or signal handling of its own (the default would swallow SIGTERM and stop only the web server).</summary>
    private sealed class EmbeddedLifetime : Microsoft.Extensions.Hosting.IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stop.Dispose();
        _abort.Dispose();
    }
}
