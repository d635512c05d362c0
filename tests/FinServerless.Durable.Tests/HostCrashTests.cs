using System.Diagnostics;
using FinServerless.Connections;
using FinServerless.Durable.Backend;
using FinServerless.Durable.Protocol;
using FinServerless.Native;
using FinServerless.Testing;

namespace FinServerless.Durable.Tests;

/// <summary>A host process killed with SIGKILL in the middle of a fan-out, then restarted, finishes the work.</summary>
public sealed class HostCrashTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static string WorkerDll()
    {
        var configuration = typeof(HostCrashTests).Assembly.Location.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        return Path.Combine(RepositoryLayout.Root, "tests", "FinServerless.Durable.TestWorker", "bin", configuration, "net10.0", "FinServerless.Durable.TestWorker.dll");
    }

    private Process StartWorker(string hub, List<string> output)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { WorkerDll(), azurite.ConnectionString, hub, "5" })
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (output)
                {
                    output.Add(e.Data);
                }
            }
        };
        process.BeginOutputReadLine();
        return process;
    }

    [Fact]
    public async Task A_fan_out_of_1000_survives_a_SIGKILL_of_its_host_and_completes_after_restart()
    {
        var hubName = "crash" + Guid.NewGuid().ToString("N")[..10];
        var hub = new StorageTaskHub(StorageConnection.FromConnectionString(azurite.ConnectionString), new TaskHubOptions { HubName = hubName });
        await hub.CreateIfNotExistsAsync();
        var id = await hub.StartAsync("FanOut", "1000", "fan-crash");

        var firstOutput = new List<string>();
        using var first = StartWorker(hubName, firstOutput);
        var clock = Stopwatch.StartNew();
        while (firstOutput.Count(l => l.StartsWith("done", StringComparison.Ordinal)) < 150 && clock.Elapsed < TimeSpan.FromMinutes(2))
        {
            await Task.Delay(20);
        }

        first.Kill(entireProcessTree: true); // SIGKILL: no cleanup, messages in flight stay hidden until their visibility ends
        await first.WaitForExitAsync();
        var before = (await hub.GetAsync(id))!.Value.State.OrchestrationStatus;

        var secondOutput = new List<string>();
        using var second = StartWorker(hubName, secondOutput);
        try
        {
            var state = await hub.WaitForCompletionAsync(id, TimeSpan.FromMinutes(3));
            var firstDone = firstOutput.Count(l => l.StartsWith("done", StringComparison.Ordinal));

            Assert.False(StorageTaskHub.IsTerminal(before), $"killed while {before}");
            Assert.InRange(firstDone, 150, 999);
            Assert.Equal(OrchestrationStatus.Completed, state.OrchestrationStatus);
            Assert.Equal("333833500", state.Output);
            Assert.True(secondOutput.Count(l => l.StartsWith("done", StringComparison.Ordinal)) > 0, "the restarted host did part of the work");
        }
        finally
        {
            second.Kill(entireProcessTree: true);
        }
    }
}
