using System.Text.Json.Nodes;

namespace FinServerless.IsolatedHost.Tests;

/// <summary>host.json and local.settings.json are read like Core Tools reads them; a bad setting is named in the error.</summary>
public sealed class ConfigurationTests
{
    [Fact]
    public void Host_json_extensions_become_the_extensions_own_configuration_and_settings_are_read()
    {
        var settings = TestApp.WriteSettings("UseDevelopmentStorage=true");
        var config = HostConfiguration.Load(TestApp.Directory, settings);
        Assert.Equal("3", config.ExtensionSettings["AzureWebJobs:extensions:queues:maxDequeueCount"]);
        Assert.Equal("00:00:01", config.ExtensionSettings["AzureWebJobs:extensions:durableTask:storageProvider:maxQueuePollingInterval"]);
        Assert.Equal("IsolatedHostTests", config.HubName);
        Assert.Equal(TimeSpan.FromMinutes(5), config.FunctionTimeout);
        Assert.Equal("api", config.RoutePrefix);
        Assert.Equal("UseDevelopmentStorage=true", config.Connection());
        Assert.Equal("Warning", config.LogLevels["Azure.Core"]);
    }

    [Theory]
    [InlineData("functionTimeout", "\"soon\"", "functionTimeout 'soon'")]
    [InlineData("functionTimeout", "\"10:00:00\"", "at most 02:00:00")]
    [InlineData("extensions", "{\"serviceBus\":{}}", "extensions.serviceBus is not an extension this host carries")]
    [InlineData("logging", "{\"logLevel\":{\"default\":\"Loud\"}}", "logging.logLevel.default 'Loud' is not a log level")]
    [InlineData("extensions", "{\"durableTask\":{\"hubName\":\"%HUB_NAME%\"}}", "extensions.durableTask.hubName: setting 'HUB_NAME'")]
    [InlineData("version", "\"1.0\"", "'version' must be \"2.0\"")]
    public void A_bad_host_json_setting_is_named_in_the_error(string key, string json, string expected)
    {
        var app = TestApp.CopyWithHostJson(h => h[key] = JsonNode.Parse(json));
        var error = Assert.Throws<HostConfigurationException>(() => HostConfiguration.Load(app, TestApp.WriteSettings("UseDevelopmentStorage=true")));
        Assert.Contains(expected, error.Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(app, "host.json"), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_that_is_not_a_built_isolated_app_is_refused_with_the_reason()
    {
        var error = Assert.Throws<HostConfigurationException>(() => HostConfiguration.Load(Path.GetTempPath()));
        Assert.Contains("no worker.config.json", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_malformed_local_settings_file_is_named()
    {
        var path = Path.Combine(Path.GetTempPath(), $"broken-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, "{ \"Values\": { \"AzureWebJobsStorage\": ");
        var error = Assert.Throws<HostConfigurationException>(() => HostConfiguration.Load(TestApp.Directory, path));
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("not valid JSON", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_value_the_extension_cannot_bind_fails_the_start_naming_the_setting()
    {
        var app = TestApp.CopyWithHostJson(h => h["extensions"]!["queues"]!["maxDequeueCount"] = "many");
        var error = await Assert.ThrowsAsync<HostConfigurationException>(() => IsolatedFunctionsHost.StartAsync(new IsolatedHostOptions
        {
            AppDirectory = app,
            SettingsFile = TestApp.WriteSettings("UseDevelopmentStorage=true"),
            Port = 0,
            Logging = _ => { },
        }));
        Assert.Contains("extensions.queues.maxDequeueCount", error.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("{\"AzureWebJobsStorage__blobServiceUri\":\"https://acct.blob.core.windows.net\",\"AzureWebJobsStorage__credential\":\"password\"}", "AzureWebJobsStorage__credential")]
    [InlineData("{\"AzureWebJobsStorage\":\"AccountName\"}", "setting 'AzureWebJobsStorage'")]
    [InlineData("{}", "AzureWebJobsStorage")]
    public async Task A_storage_connection_that_cannot_be_used_fails_the_start_naming_the_setting(string values, string named)
    {
        var path = Path.Combine(Path.GetTempPath(), $"storage-{Guid.NewGuid():N}.json");
        File.WriteAllText(path, $"{{\"IsEncrypted\":false,\"Values\":{values}}}");
        var error = await Assert.ThrowsAsync<HostConfigurationException>(() => IsolatedFunctionsHost.StartAsync(new IsolatedHostOptions
        {
            AppDirectory = TestApp.Directory,
            SettingsFile = path,
            Port = 0,
            Logging = _ => { },
        }));
        Assert.Contains(named, error.Message, StringComparison.Ordinal);
    }
}
