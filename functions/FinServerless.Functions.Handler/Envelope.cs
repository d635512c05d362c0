using System.Text.Json;
using System.Text.Json.Nodes;

namespace FinServerless.Functions.Handler;

/// <summary>
/// What the Functions host POSTs to a custom handler: <c>{"Data": {binding: value}, "Metadata": {...}}</c>.
/// Strings arrive double-encoded (a JSON string whose content is a JSON string literal); <see cref="Text"/> and
/// <see cref="Json"/> undo that.
/// </summary>
public sealed class InvocationRequest
{
    /// <summary>Binding values by binding name.</summary>
    public Dictionary<string, JsonElement> Data { get; init; } = [];

    /// <summary>Trigger metadata (DequeueCount, sys, instanceId, ...).</summary>
    public Dictionary<string, JsonElement> Metadata { get; init; } = [];

    /// <summary>A binding's value as text, with the host's extra string encoding removed.</summary>
    public string? Text(string binding) => Data.TryGetValue(binding, out var v) ? Unwrap(v) : null;

    /// <summary>A binding's value as JSON text (an activity's input, a queue message holding JSON).</summary>
    public string? Json(string binding)
    {
        if (!Data.TryGetValue(binding, out var v) || v.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return null;
        }

        return v.ValueKind == JsonValueKind.String ? JsonTextOf(v.GetString()!) : v.GetRawText();
    }

    /// <summary>A metadata value as text (double encoding removed).</summary>
    public string? Meta(string key) => Metadata.TryGetValue(key, out var v) ? Unwrap(v) : null;

    /// <summary>The HTTP request of an httpTrigger binding.</summary>
    public HttpRequestData Http(string binding = "req") =>
        Data.TryGetValue(binding, out var v) && v.ValueKind == JsonValueKind.Object
            ? v.Deserialize<HttpRequestData>(Envelope.Options) ?? new HttpRequestData()
            : throw new ArgumentException($"Binding '{binding}' holds no HTTP request.");

    private static string? Unwrap(JsonElement v)
    {
        if (v.ValueKind != JsonValueKind.String)
        {
            return v.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined ? null : v.GetRawText();
        }

        var s = v.GetString()!;
        for (var i = 0; i < 2 && s.Length >= 2 && s[0] == '"'; i++)
        {
            try
            {
                s = JsonSerializer.Deserialize<string>(s)!;
            }
            catch (JsonException)
            {
                break;
            }
        }

        return s;
    }

    private static string JsonTextOf(string s)
    {
        for (var i = 0; i < 3; i++)
        {
            try
            {
                using var doc = JsonDocument.Parse(s);
                if (doc.RootElement.ValueKind != JsonValueKind.String)
                {
                    return s;
                }

                s = doc.RootElement.GetString()!;
            }
            catch (JsonException)
            {
                return JsonSerializer.Serialize(s);
            }
        }

        return JsonSerializer.Serialize(s);
    }
}

/// <summary>The request of an httpTrigger as the host sends it.</summary>
public sealed class HttpRequestData
{
    /// <summary>Full URL.</summary>
    public string Url { get; init; } = string.Empty;

    /// <summary>HTTP method.</summary>
    public string Method { get; init; } = "GET";

    /// <summary>Query string values.</summary>
    public Dictionary<string, string> Query { get; init; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Headers (each a list).</summary>
    public Dictionary<string, string[]> Headers { get; init; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Route parameters.</summary>
    public Dictionary<string, string> Params { get; init; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The body as text (base64 for binary content types).</summary>
    public string? Body { get; init; }

    /// <summary>A header's first value.</summary>
    public string? Header(string name) =>
        Headers.FirstOrDefault(h => string.Equals(h.Key, name, StringComparison.OrdinalIgnoreCase)).Value?.FirstOrDefault();
}

/// <summary>What a custom handler answers: outputs by binding name, log lines, and a return value.</summary>
public sealed class InvocationResponse
{
    /// <summary>Output binding values.</summary>
    public Dictionary<string, object?> Outputs { get; } = [];

    /// <summary>Lines the host writes to its log (never row contents or secrets).</summary>
    public List<string> Logs { get; } = [];

    /// <summary>The function's return value (durable triggers use it).</summary>
    public object? ReturnValue { get; set; }

    /// <summary>Sets the http output: the status code as a string (as the host expects), a JSON body.</summary>
    public InvocationResponse Http(int status, object? body, string binding = "res", IDictionary<string, string>? headers = null)
    {
        var h = new Dictionary<string, string>(headers ?? new Dictionary<string, string>()) { ["Content-Type"] = "application/json" };
        Outputs[binding] = new Dictionary<string, object?>
        {
            ["statusCode"] = status.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["body"] = body is null ? null : JsonSerializer.SerializeToNode(body, Envelope.Options),
            ["headers"] = h,
        };
        return this;
    }

    /// <summary>An error body in one shape for every function: <c>{"error": {"code", "message"}}</c>.</summary>
    public InvocationResponse Error(int status, string code, string message) => Http(status, new { error = new { code, message } });
}

/// <summary>Shared JSON settings of the envelopes.</summary>
public static class Envelope
{
    /// <summary>Case-insensitive reading (the host writes PascalCase), camelCase writing.</summary>
    public static JsonSerializerOptions Options { get; } = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Serializes a response with PascalCase envelope keys (Outputs, Logs, ReturnValue) as the host reads them.</summary>
    public static byte[] Serialize(InvocationResponse response) =>
        JsonSerializer.SerializeToUtf8Bytes(new JsonObject
        {
            ["Outputs"] = JsonSerializer.SerializeToNode(response.Outputs, Options),
            ["Logs"] = JsonSerializer.SerializeToNode(response.Logs, Options),
            ["ReturnValue"] = JsonSerializer.SerializeToNode(response.ReturnValue, Options),
        });
}
