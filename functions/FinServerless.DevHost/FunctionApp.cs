using System.Text.Json;
using System.Text.Json.Nodes;
using FinServerless.Durable.Backend;

namespace FinServerless.DevHost;

/// <summary>One function: its folder name and the bindings of its function.json.</summary>
public sealed record FunctionDefinition(string Name, IReadOnlyList<JsonObject> Bindings)
{
    /// <summary>The trigger binding (the input whose type ends in "Trigger").</summary>
    public JsonObject Trigger => Bindings.FirstOrDefault(b => (b["type"]?.GetValue<string>() ?? string.Empty).EndsWith("Trigger", StringComparison.Ordinal))
        ?? throw new InvalidOperationException($"Function '{Name}' has no trigger binding in its function.json.");

    /// <summary>The trigger's type (httpTrigger, queueTrigger, ...).</summary>
    public string TriggerType => Trigger["type"]!.GetValue<string>();

    /// <summary>A binding property as a string.</summary>
    public static string? Get(JsonObject binding, string name) => binding[name]?.GetValue<string>();
}

/// <summary>
/// A function app folder as the Functions host reads it: <c>host.json</c>, one folder per function with its
/// <c>function.json</c>, and (beside them or in the current folder) <c>local.settings.json</c>.
/// </summary>
public sealed class FunctionApp
{
    private FunctionApp(string root, JsonObject host, IReadOnlyList<FunctionDefinition> functions)
    {
        Root = root;
        Host = host;
        Functions = functions;
    }

    /// <summary>The app folder.</summary>
    public string Root { get; }

    /// <summary>host.json.</summary>
    public JsonObject Host { get; }

    /// <summary>The functions, by folder name.</summary>
    public IReadOnlyList<FunctionDefinition> Functions { get; }

    /// <summary>A function by name, or null.</summary>
    public FunctionDefinition? this[string name] => Functions.FirstOrDefault(f => string.Equals(f.Name, name, StringComparison.OrdinalIgnoreCase));

    /// <summary>The task hub name (extensions.durableTask.hubName, default "finserverless").</summary>
    public string HubName => Host["extensions"]?["durableTask"]?["hubName"]?.GetValue<string>() ?? "finserverless";

    /// <summary>
    /// The durable backend's settings from host.json's extensions.durableTask, with the Durable extension's names:
    /// hubName, maxConcurrentActivityFunctions, maxConcurrentOrchestratorFunctions, and storageProvider's
    /// controlQueueVisibilityTimeout / workItemQueueVisibilityTimeout (the shorter of the two is used for both).
    /// </summary>
    public TaskHubOptions DurableOptions(Action<string>? log)
    {
        var durable = Host["extensions"]?["durableTask"];
        var defaults = new TaskHubOptions();
        TimeSpan? Span(string name)
        {
            var node = durable?["storageProvider"]?[name];
            if (node is null)
            {
                return null;
            }

            return TimeSpan.TryParse(node.ToString(), System.Globalization.CultureInfo.InvariantCulture, out var span) && span > TimeSpan.Zero
                ? span
                : throw new InvalidOperationException($"{Path.Combine(Root, "host.json")}: extensions.durableTask.storageProvider.{name} '{node}' is not a positive time span such as \"00:00:30\".");
        }

        int Count(string name, int fallback)
        {
            var node = durable?[name];
            return node is null ? fallback
                : int.TryParse(node.ToString(), System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0 ? n
                : throw new InvalidOperationException($"{Path.Combine(Root, "host.json")}: extensions.durableTask.{name} '{node}' is not a positive whole number.");
        }

        var visibility = new[] { Span("controlQueueVisibilityTimeout"), Span("workItemQueueVisibilityTimeout") }.Where(t => t is not null).Min() ?? defaults.VisibilityTimeout;
        var options = new TaskHubOptions
        {
            HubName = HubName,
            VisibilityTimeout = visibility,
            ActivityConcurrency = Count("maxConcurrentActivityFunctions", defaults.ActivityConcurrency),
            OrchestrationConcurrency = Count("maxConcurrentOrchestratorFunctions", defaults.OrchestrationConcurrency),
            Log = log,
        };
        options.Validate();
        return options;
    }

    /// <summary>A queues extension setting (host.json extensions.queues).</summary>
    public JsonNode? QueueSetting(string name) => Host["extensions"]?["queues"]?[name];

    /// <summary>Loads an app folder; errors name the file.</summary>
    public static FunctionApp Load(string root)
    {
        root = Path.GetFullPath(root);
        var hostPath = Path.Combine(root, "host.json");
        if (!File.Exists(hostPath))
        {
            throw new InvalidOperationException($"{hostPath} does not exist; point --app at a built function app folder (it holds host.json and one folder per function).");
        }

        var host = Parse(hostPath);
        if (host["customHandler"]?["description"]?["defaultExecutablePath"] is null)
        {
            throw new InvalidOperationException($"{hostPath} has no customHandler.description.defaultExecutablePath.");
        }

        var functions = new List<FunctionDefinition>();
        foreach (var dir in Directory.EnumerateDirectories(root).Order(StringComparer.Ordinal))
        {
            var path = Path.Combine(dir, "function.json");
            if (!File.Exists(path))
            {
                continue;
            }

            var bindings = Parse(path)["bindings"] as JsonArray ?? throw new InvalidOperationException($"{path} has no \"bindings\" array.");
            functions.Add(new FunctionDefinition(Path.GetFileName(dir), bindings.Select(b => b as JsonObject ?? throw new InvalidOperationException($"{path}: every binding must be an object.")).ToList()));
        }

        if (functions.Count == 0)
        {
            throw new InvalidOperationException($"{root} has no function folders (folders with a function.json).");
        }

        return new FunctionApp(root, host, functions);
    }

    /// <summary>Reads local.settings.json's Values (a missing file gives none).</summary>
    public static Dictionary<string, string> LoadSettings(string? path)
    {
        if (path is null || !File.Exists(path))
        {
            return [];
        }

        var values = Parse(path)["Values"] as JsonObject ?? [];
        return values.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value!.GetValueKind() == JsonValueKind.String ? kv.Value.GetValue<string>() : kv.Value.ToJsonString());
    }

    /// <summary>Replaces %NAME% with the setting NAME, as the host does in binding properties and handler arguments.</summary>
    public static string Expand(string text, Func<string, string?> settings) =>
        System.Text.RegularExpressions.Regex.Replace(text, "%([A-Za-z0-9_:.-]+)%", m =>
            settings(m.Groups[1].Value) ?? throw new InvalidOperationException($"Setting '{m.Groups[1].Value}' (used as %{m.Groups[1].Value}%) is not set; add it to local.settings.json."));

    private static JsonObject Parse(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
                ?? throw new InvalidOperationException($"{path} is not a JSON object.");
        }
        catch (JsonException ex)
        {
            throw new InvalidOperationException($"{path} is not valid JSON: {ex.Message}", ex);
        }
    }
}
