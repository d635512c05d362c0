using System.Diagnostics;
using System.Globalization;
using System.Text;
using FinServerless.Azurite;
using FinServerless.Connections;
using FinServerless.Native;

namespace FinServerless.Benchmarks;

/// <summary>
/// Work items per second of the Durable Task backend the app runs on (the Durable extension on its Azure Storage
/// provider, under the local host, over Azurite): (a) 100 orchestrations of five sequential activities, (b) one fan-out
/// of 1,000 activities, for three host.json settings. A work item is one activity run or one orchestrator episode.
/// </summary>
internal static class DurableBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        await using var azurite = await AzuriteServer.StartAsync();
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
        sb.AppendLine("# Durable benchmark: the Durable Task backend on Azurite");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Machine: {MachineInfo.Describe()}");
        sb.AppendLine("- A work item is one activity run or one orchestrator episode. Command: `./eng/bench.sh durable`");
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
