using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Azure.Storage.Blobs.Specialized;
using Azure.Storage.Queues.Models;
using FinServerless.IsolatedHost.Rpc;
using Google.Protobuf;
using Microsoft.AspNetCore.Http;
using Microsoft.Azure.WebJobs;
using Microsoft.Extensions.Logging;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace FinServerless.IsolatedHost;

/// <summary>
/// Turns one WebJobs invocation of an emitted function into an InvocationRequest to the worker and its response back
/// into outputs: queue messages and blobs written through the real output bindings, the trigger's return value, or a
/// failure in the shape the Functions host gives it (the Durable extension reads failure details from it).
/// Logs one line per invocation: function, trigger, outcome, duration; never a payload.
/// </summary>
/// <remarks>Public only because the emitted functions (a dynamic assembly) call it; it is built by the host.</remarks>
public sealed class InvocationBridge
{
    private readonly IReadOnlyList<EmittedFunction> functions;
    private readonly WorkerSupervisor worker;
    private readonly HttpProxy proxy;
    private readonly ILogger log;

    internal InvocationBridge(IReadOnlyList<EmittedFunction> functions, WorkerSupervisor worker, HttpProxy proxy, ILogger log)
    {
        this.functions = functions;
        this.worker = worker;
        this.proxy = proxy;
        this.log = log;
    }

    /// <summary>How long a cancelled invocation waits for the worker to answer before it is given up.</summary>
    private static readonly TimeSpan CancelGrace = TimeSpan.FromSeconds(10);

    /// <summary>Invocations the bridge has completed, by outcome (for the host status).</summary>
    public long Succeeded;

    /// <summary>Invocations that failed (the function threw, the worker died, or it was cancelled).</summary>
    public long Failed;

    private readonly CancellationTokenSource cancelAll = new();
    private int inFlight;

    /// <summary>Invocations under way now.</summary>
    public int InFlight => Volatile.Read(ref inFlight);

    /// <summary>Cancels every invocation in flight (and any later one): the host's grace period is over.</summary>
    public void CancelInFlight() => cancelAll.Cancel();

    /// <summary>Waits until no invocation is in flight, or <paramref name="timeout"/> passes; whether none is left.</summary>
    public async Task<bool> DrainAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (InFlight > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50).ConfigureAwait(false);
        }

        return InFlight == 0;
    }

    /// <summary>Called by the emitted method of function number <paramref name="index"/> with its bound arguments.</summary>
    public async Task<object?> InvokeAsync(int index, object?[] arguments)
    {
        Interlocked.Increment(ref inFlight);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(arguments.OfType<CancellationToken>().FirstOrDefault(), cancelAll.Token);
        try
        {
            return await InvokeCoreAsync(index, arguments, linked.Token).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref inFlight);
        }
    }

    private async Task<object?> InvokeCoreAsync(int index, object?[] arguments, CancellationToken cancellationToken)
    {
        var function = functions[index];
        var descriptor = function.Descriptor;
        var request = new InvocationRequest
        {
            InvocationId = Guid.NewGuid().ToString(),
            // The worker reads the trace context of every invocation.
            TraceContext = new RpcTraceContext { TraceParent = Activity.Current?.Id ?? $"00-{ActivityTraceId.CreateRandom()}-{ActivitySpanId.CreateRandom()}-00", TraceState = Activity.Current?.TraceStateString ?? string.Empty },
        };
        HttpContext? http = null;
        for (var i = 0; i < function.Parameters.Count; i++)
        {
            var parameter = function.Parameters[i];
            var value = arguments[i];
            switch (parameter.Role)
            {
                case ParameterRole.Trigger when value is HttpRequest httpRequest:
                    http = httpRequest.HttpContext;
                    // With the worker's HttpUri capability the request itself is proxied; the message carries an empty RpcHttp.
                    request.InputData.Add(new ParameterBinding { Name = parameter.Binding!.Name, Data = new TypedData { Http = new RpcHttp() } });
                    if (http.Items.TryGetValue(HttpProxy.RouteValuesKey, out var route) && route is IDictionary<string, object?> values)
                    {
                        foreach (var (name, routeValue) in values)
                        {
                            if (routeValue is not null)
                            {
                                request.TriggerMetadata[name] = new TypedData { String = routeValue.ToString() };
                            }
                        }
                    }

                    request.TriggerMetadata["Query"] = Json(httpRequest.Query.ToDictionary(q => q.Key, q => q.Value.ToString()));
                    request.TriggerMetadata["Headers"] = Json(httpRequest.Headers.ToDictionary(h => h.Key, h => h.Value.ToString()));
                    break;
                case ParameterRole.Trigger when value is QueueMessage message:
                    var body = message.Body.ToString();
                    request.InputData.Add(new ParameterBinding { Name = parameter.Binding!.Name, Data = new TypedData { String = body } });
                    request.TriggerMetadata["QueueTrigger"] = new TypedData { String = body };
                    request.TriggerMetadata["DequeueCount"] = Json(message.DequeueCount);
                    request.TriggerMetadata["Id"] = new TypedData { String = message.MessageId };
                    request.TriggerMetadata["PopReceipt"] = new TypedData { String = message.PopReceipt };
                    request.TriggerMetadata["InsertionTime"] = Json(message.InsertedOn);
                    request.TriggerMetadata["ExpirationTime"] = Json(message.ExpiresOn);
                    request.TriggerMetadata["NextVisibleTime"] = Json(message.NextVisibleOn);
                    break;
                case ParameterRole.Trigger when value is string input && descriptor.Trigger.Type.Equals("activityTrigger", StringComparison.OrdinalIgnoreCase):
                    // An activity's input is JSON text: the worker deserializes it into the parameter's type.
                    request.InputData.Add(new ParameterBinding { Name = parameter.Binding!.Name, Data = IsJson(input) ? new TypedData { Json = input } : new TypedData { String = input } });
                    break;
                case ParameterRole.Trigger or ParameterRole.Input:
                    request.InputData.Add(new ParameterBinding { Name = parameter.Binding!.Name, Data = ToTypedData(value) });
                    break;
                case ParameterRole.TriggerData when value is not null:
                    request.TriggerMetadata[parameter.Name] = ToTypedData(value);
                    break;
            }
        }

        var trigger = $"{descriptor.Trigger.Type} {TriggerSource(descriptor)}".TrimEnd();
        var clock = Stopwatch.StartNew();
        try
        {
            var (channel, ids) = await worker.CurrentAsync(cancellationToken).ConfigureAwait(false);
            request.FunctionId = ids.TryGetValue(descriptor.Name, out var id) ? id
                : throw new WorkerUnavailableException($"The restarted worker no longer has a function named {descriptor.Name}.");
            var reply = SendAsync(channel, request, cancellationToken);
            HttpResponseMessage? proxied = null;
            if (http is not null)
            {
                // Start forwarding before the invocation is answered: the worker pairs the two by the invocation id.
                var forward = proxy.ForwardAsync(http, request.InvocationId, worker.HttpUri);
                try
                {
                    proxied = await forward.ConfigureAwait(false);
                }
                catch (HttpRequestException ex) when (!reply.IsCompletedSuccessfully)
                {
                    // The worker went away or failed the request; the invocation's outcome says which.
                    log.LogDebug("forwarding {Function}'s request to the worker failed: {Reason} (invocation {InvocationId})", descriptor.Name, ex.Message, request.InvocationId);
                }

                if (proxied is not null && !HttpProxy.IsEmpty(proxied))
                {
                    // A response with a body streams through at once; an empty one waits for the outcome (a function that threw answers an empty 200).
                    await HttpProxy.CopyAsync(http, proxied).ConfigureAwait(false);
                    proxied = null;
                }
            }

            var response = await reply.ConfigureAwait(false);
            if (response.Result.Status != StatusResult.Types.Status.Success)
            {
                proxied?.Dispose();
                var exception = response.Result.Exception;
                throw new FunctionFailedException(response.Result.Status == StatusResult.Types.Status.Cancelled
                    ? "Result: Failure\nException: The invocation was cancelled.\nStack: "
                    : $"Result: Failure\nException: {exception?.Message}\nStack: {exception?.StackTrace}", exception?.Type);
            }

            if (proxied is not null)
            {
                await HttpProxy.CopyAsync(http!, proxied).ConfigureAwait(false);
            }

            var returned = await WriteOutputsAsync(function, arguments, response, cancellationToken).ConfigureAwait(false);
            Interlocked.Increment(ref Succeeded);
            log.LogInformation("{Function} ({Trigger}) succeeded in {Milliseconds} ms (invocation {InvocationId})", descriptor.Name, trigger, clock.ElapsedMilliseconds, request.InvocationId);
            return returned;
        }
        catch (Exception ex)
        {
            Interlocked.Increment(ref Failed);
            var reason = ex switch
            {
                FunctionFailedException failed => $"the function threw{(failed.ExceptionType is { } t ? " " + t : string.Empty)}",
                WorkerUnavailableException => "the worker process exited",
                OperationCanceledException => "cancelled",
                _ => ex.GetType().Name,
            };
            log.LogWarning("{Function} ({Trigger}) failed in {Milliseconds} ms: {Reason} (invocation {InvocationId})", descriptor.Name, trigger, clock.ElapsedMilliseconds, reason, request.InvocationId);
            throw;
        }
    }

    private static async Task<InvocationResponse> SendAsync(WorkerChannel channel, InvocationRequest request, CancellationToken cancellationToken)
    {
        var reply = channel.RequestAsync("inv:" + request.InvocationId, new StreamingMessage { InvocationRequest = request });
        try
        {
            return (await reply.WaitAsync(cancellationToken).ConfigureAwait(false)).InvocationResponse;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Tell the worker (the function's CancellationToken fires there), then give it a moment to answer.
            try
            {
                await channel.SendAsync(new StreamingMessage { InvocationCancel = new InvocationCancel { InvocationId = request.InvocationId } }, CancellationToken.None).ConfigureAwait(false);
                return (await reply.WaitAsync(CancelGrace, CancellationToken.None).ConfigureAwait(false)).InvocationResponse;
            }
            catch (Exception ex) when (ex is TimeoutException or WorkerUnavailableException)
            {
                throw new OperationCanceledException("The invocation was cancelled and the worker did not answer within the grace period.", ex, cancellationToken);
            }
        }
    }

    private static async Task<object?> WriteOutputsAsync(EmittedFunction function, object?[] arguments, InvocationResponse response, CancellationToken cancellationToken)
    {
        var outputs = response.OutputData.ToDictionary(o => o.Name, o => o.Data, StringComparer.Ordinal);
        for (var i = 0; i < function.Parameters.Count; i++)
        {
            var parameter = function.Parameters[i];
            if (parameter.Role != ParameterRole.Output)
            {
                continue;
            }

            var data = parameter.Binding!.Name == "$return" ? response.ReturnValue : outputs.GetValueOrDefault(parameter.Binding.Name);
            if (data is null || data.DataCase == TypedData.DataOneofCase.None)
            {
                continue;
            }

            switch (arguments[i])
            {
                case IAsyncCollector<string> queue:
                    foreach (var message in Messages(data))
                    {
                        await queue.AddAsync(message, cancellationToken).ConfigureAwait(false);
                    }

                    await queue.FlushAsync(cancellationToken).ConfigureAwait(false);
                    break;
                case BlockBlobClient blob:
                    var bytes = data.DataCase switch
                    {
                        TypedData.DataOneofCase.Bytes => data.Bytes.ToByteArray(),
                        TypedData.DataOneofCase.Stream => data.Stream.ToByteArray(),
                        TypedData.DataOneofCase.String => Encoding.UTF8.GetBytes(data.String),
                        TypedData.DataOneofCase.Json => Encoding.UTF8.GetBytes(data.Json),
                        _ => throw new FunctionFailedException($"Result: Failure\nException: output binding '{parameter.Binding.Name}' got {data.DataCase}, which a blob cannot hold.\nStack: ", null),
                    };
                    await blob.UploadAsync(new MemoryStream(bytes), cancellationToken: cancellationToken).ConfigureAwait(false);
                    break;
            }
        }

        return function.Descriptor.ReturnsThroughTrigger ? FromTypedData(response.ReturnValue) : null;
    }

    private static IEnumerable<string> Messages(TypedData data) => data.DataCase switch
    {
        TypedData.DataOneofCase.String => [data.String],
        TypedData.DataOneofCase.Bytes => [Encoding.UTF8.GetString(data.Bytes.Span)],
        TypedData.DataOneofCase.CollectionString => data.CollectionString.String,
        TypedData.DataOneofCase.Json when JToken.Parse(data.Json) is JArray array => array.Select(m => m.Type == JTokenType.String ? (string)m! : m.ToString(Formatting.None)),
        TypedData.DataOneofCase.Json => [data.Json],
        _ => [],
    };

    private static string TriggerSource(FunctionDescriptor function) =>
        function.Trigger.Get("queueName") ?? function.Trigger.Get("path") ?? function.Trigger.Get("schedule") ?? (function.IsHttp ? "/" + function.Route : string.Empty);

    private static bool IsJson(string text)
    {
        try
        {
            using var _ = JsonDocument.Parse(text);
            return true;
        }
        catch (System.Text.Json.JsonException)
        {
            return false;
        }
    }

    private static TypedData Json(object? value) => new() { Json = System.Text.Json.JsonSerializer.Serialize(value) };

    private static TypedData ToTypedData(object? value) => value switch
    {
        null => new TypedData(),
        string text => new TypedData { String = text },
        byte[] bytes => new TypedData { Bytes = ByteString.CopyFrom(bytes) },
        ParameterBindingData model => new TypedData
        {
            ModelBindingData = new ModelBindingData { Version = model.Version, Source = model.Source, ContentType = model.ContentType, Content = ByteString.CopyFrom(model.Content.ToArray()) },
        },
        // TimerInfo and other binding values: JSON as the Functions host serializes them (Newtonsoft, PascalCase).
        _ => new TypedData { Json = JsonConvert.SerializeObject(value) },
    };

    private static object? FromTypedData(TypedData? data) => data?.DataCase switch
    {
        // Each arm is cast to object: otherwise the switch infers JToken and wraps strings in JValue.
        TypedData.DataOneofCase.String => (object)data.String,
        TypedData.DataOneofCase.Json => JToken.Parse(data.Json),
        TypedData.DataOneofCase.Bytes => data.Bytes.ToByteArray(),
        TypedData.DataOneofCase.Int => data.Int,
        TypedData.DataOneofCase.Double => data.Double,
        _ => null,
    };
}

/// <summary>The function failed in the worker; the message has the Functions host's shape.</summary>
public sealed class FunctionFailedException(string message, string? exceptionType) : Exception(message)
{
    /// <summary>The type of the exception the function threw, as the worker reported it.</summary>
    public string? ExceptionType { get; } = exceptionType;
}
