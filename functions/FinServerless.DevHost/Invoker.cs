using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Storage.Queues;

namespace FinServerless.DevHost;

/// <summary>The outcome of one invocation: whether the handler answered 2xx, its reply, and the error text otherwise.</summary>
public sealed record InvocationResult(bool Succeeded, int Status, JsonObject? Reply, string? Error)
{
    /// <summary>An output binding's value.</summary>
    public JsonNode? Output(string name) => Reply?["Outputs"]?[name];

    /// <summary>The ReturnValue.</summary>
    public JsonNode? ReturnValue => Reply?["ReturnValue"];
}

/// <summary>
/// Sends invocations to the handler as the Functions host does (the JSON envelope with Data and Metadata; strings
/// double-encoded), logs one line per invocation with its duration and outcome, and carries out queue outputs.
/// </summary>
public sealed class Invoker(HandlerProcess handler, QueueServiceClient queues, Func<string, string?> settings, Action<string> log)
{
    /// <summary>The host's encoding of a string binding value: a JSON string literal, itself sent as a JSON string.</summary>
    public static JsonNode DoubleEncoded(string value) => JsonValue.Create(JsonSerializer.Serialize(value))!;

    private int _inFlight;

    /// <summary>Invocations sent to the handler and not answered yet.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>Invokes <paramref name="function"/> with trigger data and metadata.</summary>
    public async Task<InvocationResult> InvokeAsync(FunctionDefinition function, JsonObject data, JsonObject? metadata, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _inFlight);
        try
        {
            return await InvokeCoreAsync(function, data, metadata, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private async Task<InvocationResult> InvokeCoreAsync(FunctionDefinition function, JsonObject data, JsonObject? metadata, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid();
        metadata ??= [];
        metadata["sys"] = new JsonObject { ["MethodName"] = function.Name, ["UtcNow"] = DateTime.UtcNow.ToString("o"), ["RandGuid"] = Guid.NewGuid().ToString() };
        var envelope = new JsonObject { ["Data"] = data, ["Metadata"] = metadata };
        var clock = Stopwatch.StartNew();
        InvocationResult result;
        try
        {
            using var content = new StringContent(envelope.ToJsonString(), System.Text.Encoding.UTF8, "application/json");
            using var request = new HttpRequestMessage(HttpMethod.Post, function.Name) { Content = content };
            request.Headers.Add("x-azure-functions-invocationid", id.ToString());
            using var response = await handler.Client.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            if (response.IsSuccessStatusCode)
            {
                var reply = JsonNode.Parse(text) as JsonObject;
                result = new InvocationResult(true, (int)response.StatusCode, reply, null);
                await ApplyOutputsAsync(function, reply, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var error = TryError(text) ?? $"the handler answered {(int)response.StatusCode}";
                result = new InvocationResult(false, (int)response.StatusCode, null, error);
            }
        }
        catch (HttpRequestException ex)
        {
            result = new InvocationResult(false, 0, null, $"the handler could not be reached: {ex.Message}");
        }

        log($"Executed 'Functions.{function.Name}' ({(result.Succeeded ? "Succeeded" : "Failed")}, Id={id}, Duration={clock.ElapsedMilliseconds}ms){(result.Error is null ? string.Empty : ": " + result.Error)}");
        foreach (var line in result.Reply?["Logs"]?.AsArray() ?? [])
        {
            log($"  {function.Name}: {line}");
        }

        return result;
    }

    /// <summary>The durableClient binding value the extension passes in passthrough mode.</summary>
    public static JsonNode DurableClientValue(string hubName, Uri hostBase) => DoubleEncoded(new JsonObject
    {
        ["taskHubName"] = hubName,
        ["connectionName"] = "Storage",
        ["rpcBaseUrl"] = null,
        ["requiredQueryStringParameters"] = string.Empty,
        ["httpBaseUrl"] = new Uri(hostBase, "runtime/webhooks/durabletask").AbsoluteUri,
    }.ToJsonString());

    private async Task ApplyOutputsAsync(FunctionDefinition function, JsonObject? reply, CancellationToken cancellationToken)
    {
        foreach (var binding in function.Bindings.Where(b => FunctionDefinition.Get(b, "direction") == "out" && FunctionDefinition.Get(b, "type") == "queue"))
        {
            var name = FunctionDefinition.Get(binding, "name")!;
            if (reply?["Outputs"]?[name] is not { } value)
            {
                continue;
            }

            var queue = queues.GetQueueClient(FunctionApp.Expand(FunctionDefinition.Get(binding, "queueName")!, settings));
            await queue.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            foreach (var item in value is JsonArray array ? array.ToList() : [value])
            {
                await queue.SendMessageAsync(item!.GetValueKind() == JsonValueKind.String ? item.GetValue<string>() : item.ToJsonString(), cancellationToken: cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static string? TryError(string text)
    {
        try
        {
            return JsonNode.Parse(text)?["error"]?.ToString();
        }
        catch (JsonException)
        {
            return text.Length > 300 ? text[..300] : text;
        }
    }
}
