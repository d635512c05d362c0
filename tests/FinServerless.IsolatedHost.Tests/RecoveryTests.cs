using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using FinServerless.Testing;

namespace FinServerless.IsolatedHost.Tests;

/// <summary>The host as its own process, killed outright in the middle of a durable fan-out and started again.</summary>
public sealed class RecoveryTests : IAsyncLifetime
{
    private readonly AzuriteFixture _azurite = new();

    public Task InitializeAsync() => _azurite.InitializeAsync();

    public Task DisposeAsync() => _azurite.DisposeAsync();

    [Fact]
    public async Task A_fan_out_of_1000_activities_survives_a_SIGKILL_of_the_host_with_each_result_applied_once_and_no_worker_left_behind()
    {
        const int Count = 1000;
        var settings = TestApp.WriteSettings(_azurite.ConnectionString, tickSchedule: "0 0 0 1 1 *");
        var port = FreePort();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30) };
        var applied = _azurite.Blobs.GetBlobContainerClient("fanout-applied");

        var first = StartHost(settings, port);
        var workers = new List<int>();
        string statusUri;
        try
        {
            await ReadyAsync(http);
            workers.Add((await TestApp.StatusAsync(http))["workerProcessId"]!.GetValue<int>());
            var started = await http.PostAsync($"api/fanout/{Count}", null);
            Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
            var urls = await TestApp.JsonAsync(started);
            statusUri = urls.First(p => p.Key.Equals("statusQueryGetUri", StringComparison.OrdinalIgnoreCase)).Value!.GetValue<string>();
            var instance = urls.First(p => p.Key.Equals("id", StringComparison.OrdinalIgnoreCase)).Value!.GetValue<string>();

            // Kill it outright once a good part of the fan-out has run, and well before all of it has.
            await TestApp.EventuallyAsync("a part of the activities to run", async () => await TestApp.CountAsync(applied, instance + "/") >= 100 ? "ok" : null, TimeSpan.FromMinutes(3));
        }
        finally
        {
            first.Kill(entireProcessTree: false);
            await first.WaitForExitAsync();
        }

        var beforeRestart = await TestApp.CountAsync(applied);
        Assert.True(beforeRestart < Count, $"the fan-out had not finished when the host was killed ({beforeRestart} of {Count})");
        // The kernel ends the worker with its host (parent-death signal): none is left running.
        await TestApp.EventuallyAsync("the first worker to die with its host", () => Task.FromResult(Alive(workers[0]) ? null : "gone"), TimeSpan.FromSeconds(10));

        var second = StartHost(settings, port);
        try
        {
            await ReadyAsync(http);
            workers.Add((await TestApp.StatusAsync(http))["workerProcessId"]!.GetValue<int>());
            var status = await TestApp.CompletedAsync(http, statusUri, TimeSpan.FromMinutes(5));
            Assert.Equal("Completed", status["runtimeStatus"]!.GetValue<string>());
            Assert.Equal(Enumerable.Range(0, Count).Sum(i => (long)i * i), status["output"]!.GetValue<long>());
            Assert.Equal(Count, await TestApp.CountAsync(applied));
        }
        finally
        {
            second.Kill(entireProcessTree: false);
            await second.WaitForExitAsync();
        }

        await TestApp.EventuallyAsync("every worker to be gone", () => Task.FromResult(workers.Any(Alive) ? null : "gone"), TimeSpan.FromSeconds(10));
    }

    private static Process StartHost(string settings, int port)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { TestApp.HostDll, "start", "--app", TestApp.Directory, "--settings", settings, "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture) })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static Task ReadyAsync(HttpClient http) => TestApp.EventuallyAsync("the host to run", async () =>
    {
        try
        {
            return (await TestApp.StatusAsync(http))["state"]?.GetValue<string>() == "Running" ? "ok" : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }, TimeSpan.FromMinutes(2));

    private static bool Alive(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return !stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z');
        }
        catch (IOException)
        {
            return false;
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
