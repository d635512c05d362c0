using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;

namespace FinServerless.Functions.Tests;

/// <summary>The dev host as its own process (`finserverless-devhost start`), so a test can SIGKILL it and start another.</summary>
internal sealed class DevHostProcess : IAsyncDisposable
{
    private readonly Process _process;

    private DevHostProcess(Process process, HttpClient http)
    {
        _process = process;
        Http = http;
    }

    /// <summary>A client for the host's front door (/api, /admin, /runtime/webhooks/durabletask).</summary>
    public HttpClient Http { get; }

    /// <summary>Writes a local.settings.json with <paramref name="settings"/> into <paramref name="folder"/>; returns its path.</summary>
    public static async Task<string> WriteSettingsAsync(string folder, IReadOnlyDictionary<string, string> settings)
    {
        var path = Path.Combine(folder, "local.settings.json");
        var json = new JsonObject { ["IsEncrypted"] = false, ["Values"] = new JsonObject(settings.Select(kv => KeyValuePair.Create(kv.Key, (JsonNode?)kv.Value))) };
        await File.WriteAllTextAsync(path, json.ToJsonString());
        return path;
    }

    /// <summary>Starts the dev host on <paramref name="port"/> and waits until /admin/host/status answers.</summary>
    public static async Task<DevHostProcess> StartAsync(string appRoot, string settingsPath, int port)
    {
        var process = Process.Start(new ProcessStartInfo("dotnet", [AppLayout.DevHostDll, "start", "--app", appRoot, "--settings", settingsPath, "--port", port.ToString(CultureInfo.InvariantCulture)])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var host = new DevHostProcess(process, new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30) });
        await Poll.UntilAsync(async () =>
        {
            try
            {
                return (await host.Http.GetAsync("admin/host/status")).IsSuccessStatusCode ? [] : null;
            }
            catch (HttpRequestException)
            {
                return process.HasExited ? throw new InvalidOperationException($"the dev host exited with {process.ExitCode} before it was ready") : null;
            }
        }, TimeSpan.FromMinutes(1), "the dev host");
        return host;
    }

    /// <summary>SIGKILL to the host process alone (its handler notices and exits by itself).</summary>
    public async Task KillHostAsync()
    {
        _process.Kill(entireProcessTree: false);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Http.Dispose();
    }

    /// <summary>A free TCP port on the loopback interface.</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>Polling with a deadline whose timeout message says what was awaited.</summary>
internal static class Poll
{
    public static async Task<JsonObject> UntilAsync(Func<Task<JsonObject?>> probe, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await probe() is { } found)
            {
                return found;
            }

            await Task.Delay(300);
        }

        throw new TimeoutException($"waited {timeout} for {what}");
    }
}
