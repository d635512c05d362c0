using System.Collections.Concurrent;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;
using FinServerless.Testing;
using Microsoft.Extensions.Logging;

namespace FinServerless.IsolatedHost.Tests;

/// <summary>Where the test app is built, and the settings a test host runs it with.</summary>
internal static class TestApp
{
    private static string Configuration => AppContext.BaseDirectory.Contains("/bin/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";

    private static string Root
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "FinServerless.sln")))
            {
                dir = dir.Parent;
            }

            return dir?.FullName ?? throw new InvalidOperationException("The repository root (FinServerless.sln) is not above the test assembly.");
        }
    }

    public static string Directory => Path.Combine(Root, "tests", "FinServerless.IsolatedHost.TestApp", "bin", Configuration, "net10.0");

    public static string HostDll => Path.Combine(Root, "functions", "FinServerless.IsolatedHost", "bin", Configuration, "net10.0", "finserverless-isolated-host.dll");

    public const string FunctionKey = "test-function-key";

    public const string MasterKey = "test-master-key";

    /// <summary>Writes local.settings.json for a host on <paramref name="connectionString"/>; returns its path.</summary>
    public static string WriteSettings(string connectionString, string tickSchedule = "*/2 * * * * *")
    {
        var path = Path.Combine(Path.GetTempPath(), $"isolated-host-{Guid.NewGuid():N}.settings.json");
        File.WriteAllText(path, new JsonObject
        {
            ["IsEncrypted"] = false,
            ["Values"] = new JsonObject
            {
                ["AzureWebJobsStorage"] = connectionString,
                ["TICK_SCHEDULE"] = tickSchedule,
                [FrontDoor.FunctionKeySetting] = FunctionKey,
                [FrontDoor.MasterKeySetting] = MasterKey,
            },
        }.ToJsonString());
        return path;
    }

    /// <summary>A copy of the app whose host.json is changed by <paramref name="edit"/>.</summary>
    public static string CopyWithHostJson(Action<JsonObject> edit)
    {
        var copy = Path.Combine(Path.GetTempPath(), $"isolated-app-{Guid.NewGuid():N}");
        foreach (var file in System.IO.Directory.EnumerateFiles(Directory, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(copy, Path.GetRelativePath(Directory, file));
            System.IO.Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        var hostJson = Path.Combine(copy, "host.json");
        var json = JsonNode.Parse(File.ReadAllText(hostJson))!.AsObject();
        edit(json);
        File.WriteAllText(hostJson, json.ToJsonString());
        return copy;
    }

    /// <summary>Polls until <paramref name="probe"/> gives a value, or fails naming what was awaited.</summary>
    public static async Task<T> EventuallyAsync<T>(string what, Func<Task<T?>> probe, TimeSpan? within = null)
    {
        var deadline = DateTime.UtcNow + (within ?? TimeSpan.FromSeconds(60));
        while (true)
        {
            if (await probe() is { } value)
            {
                return value;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Timed out waiting for {what}.");
            }

            await Task.Delay(250);
        }
    }

    /// <summary>Waits for a durable instance to finish through its status URL; returns the status document.</summary>
    public static Task<JsonObject> CompletedAsync(HttpClient http, string statusUri, TimeSpan within) =>
        EventuallyAsync($"the orchestration at {statusUri} to finish", async () =>
        {
            var status = JsonNode.Parse(await http.GetStringAsync(statusUri))!.AsObject();
            return status["runtimeStatus"]?.GetValue<string>() is "Completed" or "Failed" or "Terminated" ? status : null;
        }, within);

    /// <summary>The next message on <paramref name="queue"/>, deleted once read.</summary>
    public static async Task<string?> ReceiveAsync(QueueClient queue)
    {
        if (!(await queue.ExistsAsync()).Value)
        {
            return null;
        }

        var message = (await queue.ReceiveMessageAsync()).Value;
        if (message is null)
        {
            return null;
        }

        await queue.DeleteMessageAsync(message.MessageId, message.PopReceipt);
        return message.Body.ToString();
    }

    /// <summary>How many blobs <paramref name="container"/> holds under <paramref name="prefix"/>.</summary>
    public static async Task<int> CountAsync(BlobContainerClient container, string? prefix = null)
    {
        if (!(await container.ExistsAsync()).Value)
        {
            return 0;
        }

        var count = 0;
        await foreach (var _ in container.GetBlobsAsync(Azure.Storage.Blobs.Models.BlobTraits.None, Azure.Storage.Blobs.Models.BlobStates.None, prefix, default))
        {
            count++;
        }

        return count;
    }

    /// <summary>The host's status document.</summary>
    public static async Task<JsonObject> StatusAsync(HttpClient http) => JsonNode.Parse(await http.GetStringAsync("admin/host/status"))!.AsObject();

    /// <summary>Posts JSON.</summary>
    public static Task<HttpResponseMessage> PostJsonAsync(HttpClient http, string path, object body, string? key = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        if (key is not null)
        {
            request.Headers.Add("x-functions-key", key);
        }

        return http.SendAsync(request);
    }

    /// <summary>Reads a JSON body.</summary>
    public static async Task<JsonObject> JsonAsync(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync(), documentOptions: new JsonDocumentOptions())!.AsObject();
}

/// <summary>Keeps every log line a host wrote, for assertions on what is (and is not) logged.</summary>
internal sealed class LogLines : ILoggerProvider
{
    private readonly ConcurrentQueue<string> _lines = new();
    private readonly LineLoggerProvider _provider;

    public LogLines() => _provider = new LineLoggerProvider(_lines.Enqueue);

    public IReadOnlyList<string> Lines => _lines.ToList();

    public ILogger CreateLogger(string categoryName) => _provider.CreateLogger(categoryName);

    public void Dispose() => _provider.Dispose();
}

/// <summary>Azurite and one host running the test app in this process, shared by a test class.</summary>
public sealed class HostFixture : IAsyncLifetime
{
    private readonly AzuriteFixture _azurite = new();
    private readonly LogLines _log = new();

    internal IsolatedFunctionsHost Host { get; private set; } = null!;

    internal HttpClient Http { get; private set; } = null!;

    internal IReadOnlyList<string> Log => _log.Lines;

    internal BlobServiceClient Blobs => _azurite.Blobs;

    internal QueueServiceClient Queues => _azurite.Queues;

    internal string ConnectionString => _azurite.ConnectionString;

    public async Task InitializeAsync()
    {
        await _azurite.InitializeAsync();
        Host = await IsolatedFunctionsHost.StartAsync(new IsolatedHostOptions
        {
            AppDirectory = TestApp.Directory,
            SettingsFile = TestApp.WriteSettings(_azurite.ConnectionString),
            Port = 0,
            Logging = b => b.AddProvider(_log),
        });
        Http = new HttpClient { BaseAddress = Host.BaseAddress, Timeout = TimeSpan.FromSeconds(100) };
    }

    public async Task DisposeAsync()
    {
        // The host's log beside the test results, for a failing run.
        File.WriteAllLines(Path.Combine(AppContext.BaseDirectory, "isolated-host.log"), _log.Lines);
        Http?.Dispose();
        if (Host is not null)
        {
            await Host.DisposeAsync();
        }

        await _azurite.DisposeAsync();
    }
}
