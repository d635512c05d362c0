using System.Globalization;
using System.Text.Json.Nodes;
using FinServerless.IsolatedHost;

namespace FinServerless.DevHost;

/// <summary>local.settings.json as Core Tools reads it: the <c>Values</c> the host and the worker get.</summary>
public static class LocalSettings
{
    /// <summary>The settings' Values (empty when the file does not exist); a file that is not such JSON is an error naming it.</summary>
    public static Dictionary<string, string> Load(string path)
    {
        if (!File.Exists(path))
        {
            return [];
        }

        try
        {
            var values = JsonNode.Parse(File.ReadAllText(path))?["Values"] as JsonObject;
            return values?.Where(kv => kv.Value is not null).ToDictionary(kv => kv.Key, kv => kv.Value!.ToString()) ?? [];
        }
        catch (System.Text.Json.JsonException ex)
        {
            throw new InvalidOperationException($"{path} is not valid JSON ({ex.Message}); it should hold {{\"Values\": {{\"AzureWebJobsStorage\": \"...\"}}}}.");
        }
    }

    /// <summary>Writes <paramref name="values"/> as a local.settings.json at <paramref name="path"/>.</summary>
    public static string Write(string path, IReadOnlyDictionary<string, string> values)
    {
        var json = new JsonObject { ["IsEncrypted"] = false, ["Values"] = new JsonObject(values.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))) };
        File.WriteAllText(path, json.ToJsonString());
        return path;
    }

    /// <summary>The host's options for the app in <paramref name="appDirectory"/> with these settings (the front door's body limit from FUNCTIONS_REQUEST_BODY_SIZE_LIMIT).</summary>
    public static IsolatedHostOptions HostOptions(string appDirectory, string settingsPath)
    {
        var options = new IsolatedHostOptions { AppDirectory = appDirectory, SettingsFile = settingsPath };
        return Load(settingsPath).TryGetValue("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT", out var text) && !string.IsNullOrEmpty(text)
            ? options with
            {
                MaxRequestBodyBytes = long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) && limit > 0
                    ? limit
                    : throw new HostConfigurationException($"{settingsPath}: FUNCTIONS_REQUEST_BODY_SIZE_LIMIT must be a positive number of bytes (got '{text}')."),
            }
            : options;
    }
}
