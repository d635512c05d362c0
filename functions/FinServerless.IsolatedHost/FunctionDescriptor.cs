using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using FinServerless.IsolatedHost.Rpc;

namespace FinServerless.IsolatedHost;

/// <summary>One binding of a worker function, as the worker describes it in its raw binding JSON.</summary>
internal sealed class BindingDescriptor
{
    public BindingDescriptor(JsonObject raw, string function)
    {
        Raw = raw;
        Name = Get("name") ?? throw new WorkerStartException($"function {function}: a binding has no name");
        Type = Get("type") ?? throw new WorkerStartException($"function {function}: binding '{Name}' has no type");
        IsOutput = string.Equals(Get("direction"), "Out", StringComparison.OrdinalIgnoreCase);
    }

    public JsonObject Raw { get; }

    public string Name { get; }

    public string Type { get; }

    public bool IsOutput { get; }

    public bool IsTrigger => Type.EndsWith("Trigger", StringComparison.OrdinalIgnoreCase);

    /// <summary>SDK-type bindings (BlobClient…): the host sends ModelBindingData instead of the content.</summary>
    public bool DeferredBinding => string.Equals(Raw["properties"]?["supportsDeferredBinding"]?.ToString(), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>A property of the raw binding, matched case-insensitively; strings, numbers and booleans as text.</summary>
    public string? Get(string key)
    {
        foreach (var (name, value) in Raw)
        {
            if (string.Equals(name, key, StringComparison.OrdinalIgnoreCase) && value is JsonValue v)
            {
                return v.TryGetValue<string>(out var text) ? text : v.ToJsonString();
            }
        }

        return null;
    }

    public string[] GetArray(string key) =>
        Raw.FirstOrDefault(p => string.Equals(p.Key, key, StringComparison.OrdinalIgnoreCase)).Value is JsonArray array
            ? array.Select(x => x?.GetValue<string>() ?? string.Empty).Where(x => x.Length > 0).ToArray()
            : [];
}

/// <summary>A worker function: its trigger, its other bindings, and (for HTTP) its route and methods.</summary>
internal sealed partial class FunctionDescriptor
{
    public FunctionDescriptor(RpcFunctionMetadata metadata)
    {
        Name = metadata.Name;
        var bindings = metadata.RawBindings.Select(r => new BindingDescriptor(JsonNode.Parse(r) as JsonObject
            ?? throw new WorkerStartException($"function {metadata.Name}: a raw binding is not a JSON object"), metadata.Name)).ToList();
        var triggers = bindings.Where(b => b.IsTrigger && !b.IsOutput).ToList();
        Trigger = triggers.Count == 1 ? triggers[0] : throw new WorkerStartException($"function {Name} has {triggers.Count} triggers; a function has exactly one");
        Inputs = bindings.Where(b => !b.IsTrigger && !b.IsOutput).ToList();
        Outputs = bindings.Where(b => b.IsOutput && !string.Equals(b.Type, "http", StringComparison.OrdinalIgnoreCase)).ToList();
        if (IsHttp)
        {
            Route = (Trigger.Get("route") ?? Name).Trim('/');
            Methods = Trigger.GetArray("methods").Select(m => m.ToUpperInvariant()).ToArray();
            AuthLevel = Trigger.Get("authLevel") ?? "Function";
        }

        if (string.Equals(Trigger.Type, "blobTrigger", StringComparison.OrdinalIgnoreCase))
        {
            var path = Trigger.Get("path") ?? string.Empty;
            var slash = path.IndexOf('/', StringComparison.Ordinal);
            PathTokens = Token().Matches(slash < 0 ? string.Empty : path[(slash + 1)..]).Select(m => m.Groups[1].Value).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        }
    }

    public string Name { get; }

    public BindingDescriptor Trigger { get; }

    public IReadOnlyList<BindingDescriptor> Inputs { get; }

    public IReadOnlyList<BindingDescriptor> Outputs { get; }

    public bool IsHttp => string.Equals(Trigger.Type, "httpTrigger", StringComparison.OrdinalIgnoreCase);

    /// <summary>The route under the prefix (the function's name when the trigger sets none).</summary>
    public string Route { get; } = string.Empty;

    /// <summary>Allowed methods, upper case; empty allows all.</summary>
    public string[] Methods { get; } = [];

    /// <summary>anonymous, function or admin.</summary>
    public string AuthLevel { get; } = "Anonymous";

    /// <summary>The {tokens} of a blob trigger's path, bound as trigger metadata.</summary>
    public IReadOnlyList<string> PathTokens { get; } = [];

    /// <summary>The durable triggers return their result through the trigger ($return).</summary>
    public bool ReturnsThroughTrigger => Trigger.Type.ToLowerInvariant() is "orchestrationtrigger" or "activitytrigger" or "entitytrigger";

    [GeneratedRegex(@"\{([A-Za-z_][A-Za-z0-9_-]*)\}")]
    private static partial Regex Token();
}
