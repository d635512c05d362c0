using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FinServerless.IsolatedHost;

/// <summary>
/// What the host reads from the app folder, the way Core Tools reads it: <c>host.json</c> (extensions, functionTimeout,
/// logging) and <c>local.settings.json</c> (Values, ConnectionStrings). The extensions' sections become configuration
/// under <c>AzureWebJobs:extensions:{name}</c>, where the real extensions bind their own options from.
/// </summary>
public sealed class HostConfiguration
{
    /// <summary>The longest functionTimeout the host accepts, as on a Flex Consumption plan's default ceiling.</summary>
    public static readonly TimeSpan MaxFunctionTimeout = TimeSpan.FromHours(2);

    private static readonly HashSet<string> KnownExtensions = new(StringComparer.OrdinalIgnoreCase) { "queues", "blobs", "durableTask", "http" };

    private HostConfiguration(string appDirectory, IReadOnlyDictionary<string, string> values, IReadOnlyDictionary<string, string> extensionSettings,
        TimeSpan functionTimeout, IReadOnlyDictionary<string, string> logLevels, string routePrefix, string hubName)
    {
        AppDirectory = appDirectory;
        Values = values;
        ExtensionSettings = extensionSettings;
        FunctionTimeout = functionTimeout;
        LogLevels = logLevels;
        RoutePrefix = routePrefix;
        HubName = hubName;
    }

    /// <summary>The app's build output (its worker.config.json, functions and host.json).</summary>
    public string AppDirectory { get; }

    /// <summary>local.settings.json's Values, then ConnectionStrings as <c>ConnectionStrings:{name}</c>; the environment wins over both.</summary>
    public IReadOnlyDictionary<string, string> Values { get; }

    /// <summary>host.json's extensions, flattened to configuration keys under <c>AzureWebJobs:extensions</c>.</summary>
    public IReadOnlyDictionary<string, string> ExtensionSettings { get; }

    /// <summary>host.json's functionTimeout (default 30 minutes, as on Consumption plans).</summary>
    public TimeSpan FunctionTimeout { get; }

    /// <summary>host.json's logging.logLevel: category (or "default") to level name.</summary>
    public IReadOnlyDictionary<string, string> LogLevels { get; }

    /// <summary>extensions.http.routePrefix (default "api").</summary>
    public string RoutePrefix { get; }

    /// <summary>extensions.durableTask.hubName (default "TestHubName", as the Durable extension's own default).</summary>
    public string HubName { get; }

    /// <summary>The storage connection string named by <paramref name="connection"/> (default AzureWebJobsStorage).</summary>
    public string? Connection(string connection = "AzureWebJobsStorage") =>
        Values.TryGetValue(connection, out var value) && !string.IsNullOrWhiteSpace(value) ? value
        : Values.TryGetValue($"ConnectionStrings:{connection}", out value) && !string.IsNullOrWhiteSpace(value) ? value
        : null;

    /// <summary>Reads host.json from <paramref name="appDirectory"/> and the settings file (default: local.settings.json beside it, else in the current folder).</summary>
    public static HostConfiguration Load(string appDirectory, string? settingsFile = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        appDirectory = Path.GetFullPath(appDirectory);
        if (!File.Exists(Path.Combine(appDirectory, "worker.config.json")))
        {
            throw new HostConfigurationException($"'{appDirectory}' is not a built .NET isolated function app: it has no worker.config.json (build the app first).");
        }

        var hostJsonPath = Path.Combine(appDirectory, "host.json");
        var hostJson = File.Exists(hostJsonPath) ? ParseObject(hostJsonPath) : new JsonObject { ["version"] = "2.0" };
        if (hostJson["version"]?.GetValue<string>() is not "2.0")
        {
            throw new HostConfigurationException($"{hostJsonPath}: 'version' must be \"2.0\".");
        }

        var values = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        settingsFile ??= new[] { Path.Combine(appDirectory, "local.settings.json"), Path.Combine(Directory.GetCurrentDirectory(), "local.settings.json") }.FirstOrDefault(File.Exists);
        if (settingsFile is not null)
        {
            var settings = ParseObject(settingsFile);
            foreach (var (section, prefix) in new[] { ("Values", string.Empty), ("ConnectionStrings", "ConnectionStrings:") })
            {
                if (settings[section] is null)
                {
                    continue;
                }

                if (settings[section] is not JsonObject entries)
                {
                    throw new HostConfigurationException($"{settingsFile}: '{section}' must be an object of names to strings.");
                }

                foreach (var (name, value) in entries)
                {
                    values[prefix + name] = value is JsonValue v && v.TryGetValue<string>(out var text) ? text
                        : value is JsonValue other ? other.ToJsonString()
                        : throw new HostConfigurationException($"{settingsFile}: '{section}.{name}' must be a string.");
                }
            }
        }

        foreach (var (name, value) in environment ?? Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>().ToDictionary(e => (string)e.Key, e => (string?)e.Value))
        {
            if (value is not null && values.ContainsKey(name))
            {
                values[name] = value;
            }
        }

        var extensions = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var routePrefix = "api";
        var hubName = "TestHubName";
        if (hostJson["extensions"] is JsonObject sections)
        {
            foreach (var (name, section) in sections)
            {
                if (!KnownExtensions.Contains(name))
                {
                    throw new HostConfigurationException($"{hostJsonPath}: extensions.{name} is not an extension this host carries (it carries {string.Join(", ", KnownExtensions.Order())}).");
                }

                Flatten($"AzureWebJobs:extensions:{name}", section, extensions);
            }

            if (sections["http"]?["routePrefix"] is JsonValue prefix)
            {
                routePrefix = prefix.GetValue<string>().Trim('/');
            }

            if (sections["durableTask"]?["hubName"] is JsonValue hub)
            {
                hubName = Expand(hub.GetValue<string>(), values, $"{hostJsonPath}: extensions.durableTask.hubName");
                extensions["AzureWebJobs:extensions:durableTask:hubName"] = hubName;
            }
        }

        var timeout = TimeSpan.FromMinutes(30);
        if (hostJson["functionTimeout"] is JsonValue t)
        {
            if (!TimeSpan.TryParse(t.GetValue<string>(), CultureInfo.InvariantCulture, out timeout) || timeout <= TimeSpan.Zero || timeout > MaxFunctionTimeout)
            {
                throw new HostConfigurationException($"{hostJsonPath}: functionTimeout '{t}' must be a time span (hh:mm:ss) above zero and at most {MaxFunctionTimeout}.");
            }
        }

        var levels = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (hostJson["logging"]?["logLevel"] is JsonObject logLevel)
        {
            foreach (var (category, level) in logLevel)
            {
                var text = level?.GetValue<string>() ?? string.Empty;
                if (!Enum.TryParse<Microsoft.Extensions.Logging.LogLevel>(text, ignoreCase: true, out _))
                {
                    throw new HostConfigurationException($"{hostJsonPath}: logging.logLevel.{category} '{text}' is not a log level (Trace, Debug, Information, Warning, Error, Critical, None).");
                }

                levels[category] = text;
            }
        }

        return new HostConfiguration(appDirectory, values, extensions, timeout, levels, routePrefix, hubName);
    }

    /// <summary>Replaces <c>%name%</c> with the setting's value, as binding expressions in attributes are resolved.</summary>
    public static string Expand(string text, IReadOnlyDictionary<string, string> values, string where)
    {
        return System.Text.RegularExpressions.Regex.Replace(text, "%([^%]+)%", m =>
            values.TryGetValue(m.Groups[1].Value, out var value) ? value
            : throw new HostConfigurationException($"{where}: setting '{m.Groups[1].Value}' (used as %{m.Groups[1].Value}%) is not set; add it to local.settings.json's Values."));
    }

    private static void Flatten(string prefix, JsonNode? node, Dictionary<string, string> into)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (name, child) in obj)
                {
                    Flatten($"{prefix}:{name}", child, into);
                }

                break;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    Flatten($"{prefix}:{i}", array[i], into);
                }

                break;
            case JsonValue value:
                into[prefix] = value.TryGetValue<string>(out var text) ? text : value.ToJsonString();
                break;
        }
    }

    private static JsonObject ParseObject(string path)
    {
        try
        {
            return JsonNode.Parse(File.ReadAllText(path), documentOptions: new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true }) as JsonObject
                ?? throw new HostConfigurationException($"{path}: expected a JSON object.");
        }
        catch (JsonException ex)
        {
            throw new HostConfigurationException($"{path}: not valid JSON (line {ex.LineNumber + 1}): {ex.Message}");
        }
    }
}

/// <summary>A host.json or local.settings.json the host cannot run with; the message names the file and the setting.</summary>
public sealed class HostConfigurationException(string message) : Exception(message);
