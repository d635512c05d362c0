using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using FinServerless.Native;

namespace FinServerless.Benchmarks;

/// <summary>One measured scenario on the real backend.</summary>
internal sealed record RealRun(double Seconds, long Activities, long WorkItems);

/// <summary>
/// The new local host over its test app, as its own process, with host.json's durableTask section set for one
/// configuration: orchestrations are started through the extension's HTTP API and awaited through their status URLs.
/// </summary>
internal sealed class RealBackend : IAsyncDisposable
{
    /// <summary>The host.json durableTask settings measured: the extension's defaults, then tuned for one local host.</summary>
    public static readonly IReadOnlyList<(string Name, JsonObject Settings)> Configurations =
    [
        ("extension defaults", new JsonObject()),
        ("tuned for one host", new JsonObject
        {
            // One host: one partition (one control queue to poll) and short polling once idle.
            ["storageProvider"] = new JsonObject { ["partitionCount"] = 1, ["maxQueuePollingInterval"] = "00:00:00.250" },
            ["maxConcurrentActivityFunctions"] = 64,
            ["maxConcurrentOrchestratorFunctions"] = 16,
        }),
        ("tuned, extended sessions", new JsonObject
        {
            // The orchestrator stays loaded between episodes instead of replaying its whole history each time.
            ["storageProvider"] = new JsonObject { ["partitionCount"] = 1, ["maxQueuePollingInterval"] = "00:00:00.250" },
            ["maxConcurrentActivityFunctions"] = 64,
            ["maxConcurrentOrchestratorFunctions"] = 16,
            ["extendedSessionsEnabled"] = true,
            ["extendedSessionIdleTimeoutInSeconds"] = 30,
        }),
    ];

    private static string Configuration => AppContext.BaseDirectory.Contains("/bin/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";

    private readonly Process _process;
    private readonly HttpClient _http;
    private readonly StringBuilder _output = new();

    private RealBackend(Process process, HttpClient http)
    {
        _process = process;
        _http = http;
    }

    /// <summary>The durableTask section a configuration writes.</summary>
    public static string DurableSection(JsonObject tune, string hubName)
    {
        var section = (JsonObject)tune.DeepClone();
        section["hubName"] = hubName;
        return section.ToJsonString();
    }

    /// <summary>Starts the host on a copy of the test app whose host.json carries <paramref name="tune"/> and a fresh hub.</summary>
    public static Task<RealBackend> StartAsync(string connectionString, JsonObject tune) =>
        StartAppAsync(
            Path.Combine(RepositoryLayout.Root, "tests", "FinServerless.IsolatedHost.TestApp", "bin", Configuration, "net10.0"),
            new Dictionary<string, string> { ["AzureWebJobsStorage"] = connectionString, ["TICK_SCHEDULE"] = "0 0 0 1 1 *" },
            hostJson => hostJson["extensions"]!["durableTask"] = JsonNode.Parse(DurableSection(tune, $"bench{Guid.NewGuid():N}"[..20])));

    /// <summary>The function app built at <paramref name="app"/> (copied first), under the local host as its own process, with these settings.</summary>
    public static async Task<RealBackend> StartAppAsync(string app, IReadOnlyDictionary<string, string> values, Action<JsonObject>? editHostJson = null)
    {
        var copy = Path.Combine(Path.GetTempPath(), $"finserverless-bench-app-{Guid.NewGuid():N}");
        foreach (var file in Directory.EnumerateFiles(app, "*", SearchOption.AllDirectories))
        {
            var target = Path.Combine(copy, Path.GetRelativePath(app, file));
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }

        if (editHostJson is not null)
        {
            var hostJson = JsonNode.Parse(await File.ReadAllTextAsync(Path.Combine(copy, "host.json")))!.AsObject();
            editHostJson(hostJson);
            await File.WriteAllTextAsync(Path.Combine(copy, "host.json"), hostJson.ToJsonString());
        }

        var settings = Path.Combine(copy, "local.settings.json");
        var valuesJson = new JsonObject();
        foreach (var (name, value) in values)
        {
            valuesJson[name] = value;
        }

        await File.WriteAllTextAsync(settings, new JsonObject { ["Values"] = valuesJson }.ToJsonString());

        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { Path.Combine(RepositoryLayout.Root, "functions", "FinServerless.IsolatedHost", "bin", Configuration, "net10.0", "finserverless-isolated-host.dll"), "start", "--app", copy, "--settings", settings, "--port", port.ToString(CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        var backend = new RealBackend(Process.Start(start)!, new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30) });
        backend._process.OutputDataReceived += (_, e) => backend.Keep(e.Data);
        backend._process.ErrorDataReceived += (_, e) => backend.Keep(e.Data);
        backend._process.BeginOutputReadLine();
        backend._process.BeginErrorReadLine();
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while ((await backend.StatusAsync())?["state"]?.GetValue<string>() != "Running")
        {
            if (DateTime.UtcNow > deadline || backend._process.HasExited)
            {
                throw new InvalidOperationException($"The host did not start: {backend.Output}");
            }

            await Task.Delay(250);
        }

        return backend;
    }

    /// <summary>Starts one orchestration per input, waits for all; seconds from the first start to the last completion.</summary>
    public async Task<RealRun> MeasureAsync(string orchestrator, IReadOnlyList<string> inputs, long activities)
    {
        var before = (await StatusAsync())!["succeeded"]!.GetValue<long>();
        var clock = Stopwatch.StartNew();
        var pending = new List<string>();
        foreach (var input in inputs)
        {
            using var response = await _http.PostAsync($"runtime/webhooks/durabletask/orchestrators/{orchestrator}", new StringContent(input, Encoding.UTF8, "application/json"));
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
            pending.Add(body["statusQueryGetUri"]?.GetValue<string>() ?? throw new InvalidOperationException($"{orchestrator} did not start: {(int)response.StatusCode} {body.ToJsonString()}"));
        }

        var deadline = DateTime.UtcNow.AddMinutes(10);
        while (pending.Count > 0)
        {
            var done = new List<string>();
            foreach (var uri in pending)
            {
                var status = JsonNode.Parse(await _http.GetStringAsync(uri))!;
                switch (status["runtimeStatus"]?.GetValue<string>())
                {
                    case "Completed":
                        done.Add(uri);
                        break;
                    case "Failed" or "Terminated":
                        throw new InvalidOperationException($"{orchestrator} ended {status["runtimeStatus"]}: {status["output"]}");
                }
            }

            pending.RemoveAll(done.Contains);
            if (pending.Count > 0)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"{pending.Count} {orchestrator} orchestrations did not finish in 10 minutes.");
                }

                await Task.Delay(100);
            }
        }

        var seconds = clock.Elapsed.TotalSeconds;
        var after = (await StatusAsync())!["succeeded"]!.GetValue<long>();
        return new RealRun(seconds, activities, after - before);
    }

    private string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    private void Keep(string? line)
    {
        lock (_output)
        {
            if (line is not null && _output.Length < 64 * 1024)
            {
                _output.AppendLine(line);
            }
        }
    }

    /// <summary>The host's HTTP client (its base address is the host).</summary>
    public HttpClient Http => _http;

    /// <summary>The host's status (<c>/admin/host/status</c>), or null while it does not answer.</summary>
    public async Task<JsonObject?> StatusAsync()
    {
        try
        {
            return JsonNode.Parse(await _http.GetStringAsync("admin/host/status"))?.AsObject();
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
