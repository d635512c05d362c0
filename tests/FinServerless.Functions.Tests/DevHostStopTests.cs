using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using FinServerless.Native;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using FinServerless.Testing;

namespace FinServerless.Functions.Tests;

/// <summary>
/// `finserverless-devhost start` stopped with SIGTERM, as docker stop, systemd or a CI runner stop it: no new work,
/// invocations in flight finish (or are cancelled after the grace period), every process it started is gone (checked
/// by PID), and the exit code is 0.
/// </summary>
public sealed class DevHostStopTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    private static readonly TimeSpan ExitBound = TimeSpan.FromSeconds(60);

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("finserverless-devhost-stop-");

    public void Dispose() => _folder.Delete(recursive: true);

    /// <summary>The test app's settings: storage, and a timer schedule that does not fire during a test.</summary>
    private Dictionary<string, string> TestAppSettings() => new()
    {
        ["AzureWebJobsStorage"] = azurite.ConnectionString,
        ["TICK_SCHEDULE"] = "0 0 0 1 1 *",
    };

    private static void AssertAllGone(IEnumerable<(int Pid, string Name)> processes, DevHostProcess host)
    {
        var alive = processes.Where(p => DevHostProcess.IsAlive(p.Pid)).ToList();
        Assert.True(alive.Count == 0, $"still running after the dev host exited: {string.Join(", ", alive.Select(p => $"{p.Pid} ({p.Name})"))}\n{host.Output}");
    }

    [Fact]
    public async Task SIGTERM_lets_the_invocation_in_flight_finish_refuses_new_work_and_exits_0_with_no_child_left()
    {
        var settings = await DevHostProcess.WriteSettingsAsync(_folder.FullName, TestAppSettings());
        await using var host = await DevHostProcess.StartAsync(AppLayout.TestAppRoot, settings, DevHostProcess.FreePort());
        var children = DevHostProcess.Descendants(host.ProcessId);
        Assert.NotEmpty(children); // the worker, at least
        using var slow = new HttpClient { BaseAddress = host.Http.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        var inFlight = slow.GetAsync("api/sleep?ms=5000");
        await Task.Delay(1000); // the invocation is under way in the worker

        host.Terminate();
        await Task.Delay(500);
        HttpStatusCode? refused;
        try
        {
            using var late = await host.Http.GetAsync("api/sleep?ms=1");
            refused = late.StatusCode;
        }
        catch (HttpRequestException)
        {
            refused = null; // already closed: also no new work taken
        }

        using var finished = await inFlight;
        var code = await host.WaitForExitAsync(ExitBound);

        Assert.True(refused is HttpStatusCode.ServiceUnavailable, $"a request after SIGTERM got {refused?.ToString() ?? "no answer"}, not 503\n{host.Output}");
        Assert.True(finished.StatusCode == HttpStatusCode.OK, $"the invocation in flight ended {finished.StatusCode}\n{host.Output}");
        Assert.Equal(5000, (await finished.Content.ReadFromJsonAsync<JsonObject>())!["slept"]!.GetValue<int>());
        Assert.True(code == 0, $"exit code {code}\n{host.Output}");
        AssertAllGone(children, host);
        Assert.Contains("stopping (SIGTERM)", host.Output);
        Assert.Contains("nothing left in flight", host.Output);
        Assert.Contains("FinServerless dev host: stopped.", host.Output);
    }

    [Fact]
    public async Task SIGTERM_cancels_what_outlasts_the_grace_period_and_still_exits_0_promptly()
    {
        var settings = await DevHostProcess.WriteSettingsAsync(_folder.FullName, TestAppSettings());
        await using var host = await DevHostProcess.StartAsync(AppLayout.TestAppRoot, settings, DevHostProcess.FreePort(), "--grace", "1");
        var children = DevHostProcess.Descendants(host.ProcessId);
        using var slow = new HttpClient { BaseAddress = host.Http.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
        var inFlight = slow.GetAsync("api/sleep?ms=600000");
        await Task.Delay(1000);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        host.Terminate();
        var code = await host.WaitForExitAsync(ExitBound);
        var stoppedIn = clock.Elapsed;
        HttpStatusCode? answer;
        try
        {
            using var response = await inFlight;
            answer = response.StatusCode;
        }
        catch (HttpRequestException)
        {
            answer = null;
        }

        Assert.True(code == 0, $"exit code {code}\n{host.Output}");
        Assert.True(answer is not HttpStatusCode.OK, "the ten-minute invocation cannot have finished");
        Assert.True(stoppedIn < TimeSpan.FromSeconds(30), $"took {stoppedIn} to stop with a 1 s grace period\n{host.Output}");
        Assert.Contains("grace period of 1 s over; invocations still running were cancelled", host.Output);
        AssertAllGone(children, host);
    }

    [Fact]
    public async Task SIGTERM_stops_the_azurite_verb_and_the_Azurite_it_started()
    {
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet", [AppLayout.DevHostDll, "azurite", "--data", Path.Combine(_folder.FullName, "azurite")])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var process = System.Diagnostics.Process.Start(psi)!;
        var ready = new TaskCompletionSource();
        process.OutputDataReceived += (_, e) => { if (e.Data?.StartsWith("AzureWebJobsStorage=", StringComparison.Ordinal) == true) { ready.TrySetResult(); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await ready.Task.WaitAsync(TimeSpan.FromMinutes(1));
            var children = DevHostProcess.Descendants(process.Id);
            Assert.Contains(children, p => p.Name.StartsWith("node", StringComparison.Ordinal));

            DevHostProcess.Signal(process.Id, 15);
            await process.WaitForExitAsync().WaitAsync(ExitBound);

            Assert.Equal(0, process.ExitCode);
            var alive = children.Where(p => DevHostProcess.IsAlive(p.Pid)).ToList();
            Assert.True(alive.Count == 0, $"still running: {string.Join(", ", alive)}");
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    [Fact]
    public async Task SIGTERM_stops_the_worker_and_the_training_process_it_launched()
    {
        // The local dispatcher starts FINSERVERLESS_TRAINER_COMMAND as a process; here one that would run for ten minutes.
        var settings = AppLayout.Settings(azurite.ConnectionString);
        settings["FINSERVERLESS_TRAINER_COMMAND"] = "sleep 600";
        settings["FINSERVERLESS_TRAIN_MIN_ROWS"] = "1";
        settings["FINSERVERLESS_TRAIN_MIN_CLASS_ROWS"] = "1";
        var settingsPath = await DevHostProcess.WriteSettingsAsync(_folder.FullName, settings);
        var contracts = azurite.Blobs.GetBlobContainerClient("contracts");
        await contracts.CreateIfNotExistsAsync();
        var contract = (await File.ReadAllTextAsync(Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "contract.json"))).Replace("\"partner\": \"demo\"", "\"partner\": \"term\"", StringComparison.Ordinal);
        await contracts.GetBlobClient("term/taiwan-credit.json").UploadAsync(new BinaryData(contract), overwrite: true);
        var inbox = azurite.Blobs.GetBlobContainerClient("inbox-term");
        await inbox.CreateIfNotExistsAsync();
        var rows = File.ReadLines(Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "UCI_Credit_Card.csv")).Take(401);
        await inbox.GetBlobClient("taiwan-credit/small.csv").UploadAsync(new BinaryData(string.Join('\n', rows) + "\n"), new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "text/csv" } });

        await using var host = await DevHostProcess.StartAsync(AppLayout.AppRoot, settingsPath, DevHostProcess.FreePort());
        await Poll.UntilAsync(async () => (await host.Http.GetFromJsonAsync<JsonObject>("api/runs/term/taiwan-credit"))?["runs"]?.AsArray().Count > 0 ? [] : null, TimeSpan.FromMinutes(2), "the curated run");
        using var start = await host.Http.PostAsJsonAsync("api/training", new { partner = "term", dataset = "taiwan-credit", trainer = "xgboost" });
        var statusUri = (await start.Content.ReadFromJsonAsync<JsonObject>())!["statusQueryGetUri"]!.GetValue<string>();
        await Poll.UntilAsync(async () => (await host.Http.GetFromJsonAsync<JsonObject>(statusUri))?["customStatus"]?["phase"]?.ToString() == "training" ? [] : null, TimeSpan.FromMinutes(1), "the training phase");
        var children = DevHostProcess.Descendants(host.ProcessId);
        Assert.Contains(children, p => p.Name == "sleep");

        host.Terminate();
        var code = await host.WaitForExitAsync(ExitBound);

        Assert.True(code == 0, $"exit code {code}\n{host.Output}");
        AssertAllGone(children, host);
        Assert.Contains("process(es) the worker had started", host.Output);
    }
}
