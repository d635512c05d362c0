using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using FinServerless.Azurite;
using FinServerless.Connections;
using FinServerless.Durable.Backend;
using FinServerless.Durable.Orchestration;
using FinServerless.Durable.Protocol;
using FinServerless.Native;

namespace FinServerless.Benchmarks;

/// <summary>
/// Work items per second of the storage task hub on Azurite: (a) 100 orchestrations of five sequential
/// activities, (b) one fan-out of 1,000 activities. A work item is one activity run or one orchestrator episode.
/// </summary>
internal static class DurableBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        await using var azurite = await AzuriteServer.StartAsync();
        var connection = StorageConnection.FromConnectionString(azurite.ConnectionString);
        var episodes = 0L;
        var activities = 0L;
        var orchestrators = new Dictionary<string, Orchestrator>
        {
            ["Chain"] = async ctx =>
            {
                var x = ctx.GetInput<int>();
                for (var i = 0; i < 5; i++)
                {
                    x = await ctx.CallActivityAsync<int>("Inc", x);
                }

                return x;
            },
            ["FanOut"] = async ctx => (await Task.WhenAll(Enumerable.Range(0, ctx.GetInput<int>()).Select(i => ctx.CallActivityAsync<int>("Inc", i)))).Sum(),
        };

        Task<OrchestratorResponse> Orchestrate(string name, OrchestratorRequest request, CancellationToken _)
        {
            Interlocked.Increment(ref episodes);
            return Task.FromResult(OrchestrationExecutor.Execute(request, orchestrators[name]));
        }

        Task<ActivityResult> Activity(string name, string instanceId, string? input, CancellationToken _)
        {
            Interlocked.Increment(ref activities);
            return Task.FromResult(ActivityResult.Success(JsonSerializer.Serialize(JsonSerializer.Deserialize<int>(input!) + 1)));
        }

        async Task<(double Seconds, long Episodes, long Activities)> Measure(string hubName, Func<StorageTaskHub, Task<IReadOnlyList<string>>> start)
        {
            var hub = new StorageTaskHub(connection, new TaskHubOptions { HubName = hubName, MaxPollInterval = TimeSpan.FromMilliseconds(50) });
            await hub.CreateIfNotExistsAsync();
            using var stop = new CancellationTokenSource();
            var worker = hub.RunAsync(Orchestrate, Activity, stop.Token);
            (episodes, activities) = (0, 0);
            var clock = Stopwatch.StartNew();
            var ids = await start(hub);
            foreach (var id in ids)
            {
                var state = await hub.WaitForCompletionAsync(id, TimeSpan.FromMinutes(5));
                if (state.OrchestrationStatus != OrchestrationStatus.Completed)
                {
                    throw new InvalidOperationException($"{id} ended {state.OrchestrationStatus}: {state.FailureDetails?.ErrorMessage}");
                }
            }

            var seconds = clock.Elapsed.TotalSeconds;
            stop.Cancel();
            await worker;
            return (seconds, episodes, activities);
        }

        var chains = await Measure("benchchain", async hub =>
        {
            var ids = new List<string>();
            foreach (var i in Enumerable.Range(0, 100))
            {
                ids.Add(await hub.StartAsync("Chain", "0", $"chain-{i}"));
            }

            return ids;
        });
        Console.WriteLine($"100 × 5 sequential: {chains.Seconds:0.00} s, {chains.Activities} activities, {chains.Episodes} episodes");
        var fan = await Measure("benchfan", async hub => [await hub.StartAsync("FanOut", "1000", "fan-1")]);
        Console.WriteLine($"fan-out 1,000: {fan.Seconds:0.00} s, {fan.Activities} activities, {fan.Episodes} episodes");

        var real = new List<(string Config, string Scenario, RealRun Run)>();
        foreach (var (config, tune) in RealBackend.Configurations)
        {
            await using var host = await RealBackend.StartAsync(azurite.ConnectionString, tune);
            var chain = await host.MeasureAsync("Chain", Enumerable.Repeat("0", 100).ToList(), 500);
            Console.WriteLine($"real backend ({config}), 100 × 5 sequential: {chain.Seconds:0.00} s, {chain.WorkItems} work items");
            var fanOut = await host.MeasureAsync("FanOutInc", ["1000"], 1000);
            Console.WriteLine($"real backend ({config}), fan-out 1,000: {fanOut.Seconds:0.00} s, {fanOut.WorkItems} work items");
            real.Add((config, "100 orchestrations × 5 sequential activities", chain));
            real.Add((config, "one fan-out of 1,000 activities", fanOut));
        }

        var sb = new StringBuilder();
        sb.AppendLine("# Durable benchmark: the real Durable Task backend on Azurite, beside our storage task hub");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Machine: {MachineInfo.Describe()}");
        sb.AppendLine("- Our hub (being retired): `StorageTaskHub` (instance blob under ETag, control and work-item queues) on Azurite 3.37 (local disk), one host process; orchestrators run by our replay executor in process, activities trivial — this measures the backend, not the handler's HTTP hop");
        sb.AppendLine("- A work item is one activity run or one orchestrator episode. Command: `./eng/bench.sh durable`");
        sb.AppendLine();
        sb.AppendLine("| scenario | seconds | activities | episodes | work items/s |");
        sb.AppendLine("|---|---:|---:|---:|---:|");
        foreach (var (label, r) in new[] { ("100 orchestrations × 5 sequential activities", chains), ("one fan-out of 1,000 activities", fan) })
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {label} | {r.Seconds:0.00} | {r.Activities:N0} | {r.Episodes:N0} | {(r.Activities + r.Episodes) / r.Seconds:0} |");
        }

        sb.AppendLine();
        sb.AppendLine("The real backend, as the app will run locally: `finserverless-isolated-host` (WebJobs SDK 3.0.48, Durable Task extension 3.19.0 on DurableTask.AzureStorage 2.11.2) as its own process, the isolated worker (Worker 2.52.0, DurableTask 1.21.1) of `tests/FinServerless.IsolatedHost.TestApp` over FunctionRpc and the extension's gRPC; orchestrations started through the extension's HTTP API, trivial activities (x + 1). Work items counted by the host (orchestrator episodes and activities, from `/admin/host/status`).");
        sb.AppendLine();
        sb.AppendLine("| host.json | scenario | seconds | activities | work items | work items/s |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|");
        foreach (var (config, scenario, run) in real)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"| {config} | {scenario} | {run.Seconds:0.00} | {run.Activities:N0} | {run.WorkItems:N0} | {run.WorkItems / run.Seconds:0} |");
        }

        sb.AppendLine();
        foreach (var (config, tune) in RealBackend.Configurations)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"- `{config}`: `extensions.durableTask` = `{RealBackend.DurableSection(tune, "benchhub")}`");
        }

        sb.AppendLine();
        sb.AppendLine("Published anchor: the Durable Functions Azure Storage backend does about 250 work items/s on one worker (Microsoft's figure, EP2).");
        var report = sb.ToString();
        await File.WriteAllTextAsync(Path.Combine(RepositoryLayout.Root, "bench", "results", "durable.md"), report);
        Console.WriteLine();
        Console.WriteLine(report);
        return 0;
    }
}
