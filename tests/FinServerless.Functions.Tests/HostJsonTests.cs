using FinServerless.DevHost;

namespace FinServerless.Functions.Tests;

/// <summary>The durable backend's settings as the dev host reads them from host.json.</summary>
public sealed class HostJsonTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("finserverless-hostjson-test-");

    public void Dispose() => _folder.Delete(recursive: true);

    private FunctionApp App(string durableTask)
    {
        File.WriteAllText(Path.Combine(_folder.FullName, "host.json"), $$"""
            { "version": "2.0", "customHandler": { "description": { "defaultExecutablePath": "handler" } },
              "extensions": { "durableTask": {{durableTask}} } }
            """);
        Directory.CreateDirectory(Path.Combine(_folder.FullName, "Work"));
        File.WriteAllText(Path.Combine(_folder.FullName, "Work", "function.json"), """{ "bindings": [ { "name": "input", "type": "activityTrigger", "direction": "in" } ] }""");
        return FunctionApp.Load(_folder.FullName);
    }

    [Fact]
    public void Durable_settings_come_from_host_json_with_the_extensions_names()
    {
        var options = App("""{ "hubName": "risk", "maxConcurrentActivityFunctions": 4, "maxConcurrentOrchestratorFunctions": 2, "storageProvider": { "controlQueueVisibilityTimeout": "00:01:00", "workItemQueueVisibilityTimeout": "00:00:20" } }""").DurableOptions(null);

        Assert.Equal("risk", options.HubName);
        Assert.Equal(4, options.ActivityConcurrency);
        Assert.Equal(2, options.OrchestrationConcurrency);
        Assert.Equal(TimeSpan.FromSeconds(20), options.VisibilityTimeout); // the shorter of the two
    }

    [Fact]
    public void Defaults_apply_when_host_json_is_silent()
    {
        var options = App("""{ "hubName": "risk" }""").DurableOptions(null);

        Assert.Equal(TimeSpan.FromSeconds(30), options.VisibilityTimeout);
        Assert.Equal(16, options.ActivityConcurrency);
    }

    [Theory]
    [InlineData("""{ "storageProvider": { "workItemQueueVisibilityTimeout": "ten seconds" } }""", "extensions.durableTask.storageProvider.workItemQueueVisibilityTimeout 'ten seconds'")]
    [InlineData("""{ "maxConcurrentActivityFunctions": 0 }""", "extensions.durableTask.maxConcurrentActivityFunctions '0'")]
    [InlineData("""{ "hubName": "Risk-Hub" }""", "Task hub name 'Risk-Hub'")]
    public void A_bad_durable_setting_is_named_in_the_error(string durableTask, string expected)
    {
        var app = App(durableTask);
        var error = Assert.ThrowsAny<Exception>(() => app.DurableOptions(null));

        Assert.True(error.Message.Contains(expected, StringComparison.Ordinal), error.Message);
    }
}
