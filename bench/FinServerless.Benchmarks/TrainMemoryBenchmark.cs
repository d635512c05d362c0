using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using FinServerless.Azurite;
using FinServerless.Connections;
using FinServerless.Contracts;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Native;
using FinServerless.Training.Data;

namespace FinServerless.Benchmarks;

/// <summary>
/// The function app's memory during TrainModel against the size of the curated run: the Taiwan sample and a run ten
/// times its size, each trained through the real app under the local host (its own process, the trainer a process
/// of its own), with the worker's resident memory sampled through the orchestration. Beside it, what loading the run
/// into a process costs, which is what the function app paid before the trainer scored the champion itself.
/// </summary>
internal static class TrainMemoryBenchmark
{
    private static string Configuration => AppContext.BaseDirectory.Contains("/bin/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";

    private sealed record Measured(int Scale, int Rounds, long Rows, double Seconds, double WorkerBeforeMiB, double WorkerPeakMiB, double LoadMiB, string Decision);

    public static async Task<int> RunAsync(string[] args)
    {
        // SCALE or SCALE:ROUNDS. The default adds the sample with more rounds, to tell time from data: a run as long as the ×30 one.
        var entries = (args.Length > 0 ? args : ["1", "10", "30", "1:1500"])
            .Select(a => a.Split(':') is [var s, var r] ? (int.Parse(s, CultureInfo.InvariantCulture), int.Parse(r, CultureInfo.InvariantCulture)) : (int.Parse(a, CultureInfo.InvariantCulture), 40))
            .ToList();
        await using var azurite = await AzuriteServer.StartAsync();
        var blobs = StorageConnection.FromConnectionString(azurite.ConnectionString).CreateBlobServiceClient();
        var store = new BlobRunOutput(blobs);
        var results = new List<Measured>();
        foreach (var (scale, rounds) in entries)
        {
            var partner = $"mem{scale}r{rounds}";
            var (runPath, rows) = await IngestAsync(store, partner, scale);
            Console.WriteLine($"  ×{scale}: curated {rows:N0} rows at {runPath}");
            var loadMiB = LoadCost(store, runPath);

            await using var host = await RealBackend.StartAppAsync(
                Path.Combine(RepositoryLayout.Root, "functions", "FinServerless.Functions", "bin", Configuration, "net10.0"),
                new Dictionary<string, string>
                {
                    ["AzureWebJobsStorage"] = azurite.ConnectionString,
                    ["FINSERVERLESS_TRAINER_COMMAND"] = $"dotnet {Path.Combine(RepositoryLayout.Root, "training-container", "src", "FinServerless.Trainer", "bin", Configuration, "net10.0", "finserverless-train.dll")}",
                    ["FINSERVERLESS_TRAINING_POLL_SECONDS"] = "1",
                    ["FINSERVERLESS_RESCORE_SCHEDULE"] = "0 0 2 1 1 *",
                });
            var worker = (await host.StatusAsync())?["workerProcessId"]?.GetValue<int>() ?? throw new InvalidOperationException("The host names no worker process.");
            var before = Memory(worker, "VmRSS");
            var peak = before;
            var clock = Stopwatch.StartNew();
            using var start = await host.Http.PostAsJsonAsync("api/training", new { partner, dataset = "taiwan-credit", trainer = "xgboost", model = $"{partner}-xgb", @params = new { num_boost_round = rounds, early_stopping_rounds = rounds } });
            var statusUri = (await start.Content.ReadFromJsonAsync<JsonObject>())?["statusQueryGetUri"]?.GetValue<string>()
                ?? throw new InvalidOperationException($"StartTraining answered {(int)start.StatusCode}.");
            JsonObject status;
            while (true)
            {
                peak = Math.Max(peak, Memory(worker, "VmRSS"));
                status = (await host.Http.GetFromJsonAsync<JsonObject>(statusUri))!;
                if (status["runtimeStatus"]?.ToString() is "Completed" or "Failed" or "Terminated")
                {
                    break;
                }

                if (clock.Elapsed > TimeSpan.FromMinutes(20))
                {
                    throw new TimeoutException($"TrainModel on ×{scale} did not finish in 20 minutes.");
                }

                await Task.Delay(200);
            }

            peak = Math.Max(peak, Memory(worker, "VmHWM"));
            if (status["runtimeStatus"]?.ToString() != "Completed")
            {
                throw new InvalidOperationException($"TrainModel on ×{scale} ended {status["runtimeStatus"]}: {status["output"]}");
            }

            var decision = status["output"]?["decision"]?["reason"]?.ToString() ?? "?";
            results.Add(new Measured(scale, rounds, rows, clock.Elapsed.TotalSeconds, before, peak, loadMiB, decision));
            Console.WriteLine($"  ×{scale}: TrainModel {clock.Elapsed.TotalSeconds:0.0} s; function app worker {before:0} MiB before, peak {peak:0} MiB; loading the run: {loadMiB:0} MiB");
        }

        var report = Report(results);
        await File.WriteAllTextAsync(Path.Combine(RepositoryLayout.Root, "bench", "results", "train-memory.md"), report);
        Console.WriteLine();
        Console.WriteLine(report);
        return 0;
    }

    /// <summary>The Taiwan sample repeated <paramref name="scale"/> times (ids made unique), ingested as one curated run of <paramref name="partner"/>.</summary>
    private static async Task<(string Run, long Rows)> IngestAsync(IRunOutput store, string partner, int scale)
    {
        var sample = Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit");
        var contract = DatasetContract.Load(Path.Combine(sample, "contract.json")) with { Partner = partner };
        var lines = File.ReadAllLines(Path.Combine(sample, "UCI_Credit_Card.csv"));
        var file = Path.Combine(Path.GetTempPath(), $"finserverless-mem-{partner}-{Guid.NewGuid():N}.csv");
        try
        {
            await using (var writer = new StreamWriter(file, false, new UTF8Encoding(false)))
            {
                await writer.WriteLineAsync(lines[0]);
                for (var copy = 0; copy < scale; copy++)
                {
                    foreach (var line in lines.Skip(1))
                    {
                        var comma = line.IndexOf(',', StringComparison.Ordinal);
                        var id = long.Parse(line[..comma], CultureInfo.InvariantCulture) + (copy * 1_000_000L);
                        await writer.WriteLineAsync(id.ToString(CultureInfo.InvariantCulture) + line[comma..]);
                    }
                }
            }

            await using var input = File.OpenRead(file);
            var outcome = await IngestEngine.RunAsync(input, file, contract, StorageName.Run($"r-{partner}"), store);
            return outcome.State == IngestState.Curated
                ? (outcome.ManifestPath!, outcome.Manifest!.Rows.Accepted)
                : throw new InvalidOperationException($"Ingest of ×{scale} ended {outcome.State}: {outcome.Message}");
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>Managed memory held by the run loaded as a training table: what the function app held when it re-scored the candidate itself.</summary>
    private static double LoadCost(IRunOutput store, string runPath)
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        var before = GC.GetTotalMemory(forceFullCollection: true);
        var (table, _, _) = TrainingTable.LoadAsync(store, runPath).GetAwaiter().GetResult();
        var held = GC.GetTotalMemory(forceFullCollection: true) - before;
        GC.KeepAlive(table);
        return held / 1048576.0;
    }

    /// <summary>A figure of /proc/{pid}/status in MiB (VmRSS now, VmHWM the peak).</summary>
    private static double Memory(int pid, string field)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith(field + ":", StringComparison.Ordinal))
            {
                return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
            }
        }

        throw new InvalidOperationException($"/proc/{pid}/status has no {field}.");
    }

    private static string Report(List<Measured> results)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Function app memory during TrainModel");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Machine: {MachineInfo.Describe()}");
        sb.AppendLine("- Command: `./eng/bench.sh train-memory` (one run: the sizes side by side)");
        sb.AppendLine();
        sb.AppendLine("Each size is the Taiwan sample (30,000 rows) repeated, ingested as one curated run into Azurite, then trained with `POST /api/training` (XGBoost, 40 rounds unless the table says otherwise, no early stopping) through the real function app under the local host: the isolated worker is its own process, the trainer another. The worker's resident memory is sampled every 200 ms from `/proc/{pid}/status` (VmRSS) and its peak read at the end (VmHWM). The job file names the run; the trainer reads it, scores the candidate and the champion on its held-out rows, and TrainModel decides from its typed result, so the function app never holds curated rows. The last column is what the run costs a process that loads it as a training table (managed memory held), which the function app paid when it re-scored the candidate itself.");
        sb.AppendLine();
        sb.AppendLine("| run | XGBoost rounds | curated rows | TrainModel s | worker before MiB | worker peak MiB | peak − before MiB | loading the run MiB |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"| Taiwan ×{r.Scale} | {r.Rounds} | {r.Rows:N0} | {r.Seconds:0.0} | {r.WorkerBeforeMiB:0} | {r.WorkerPeakMiB:0} | {r.WorkerPeakMiB - r.WorkerBeforeMiB:0} | {r.LoadMiB:0} |");
        }

        var largest = results.MaxBy(r => r.Rows)!;
        if (results.Where(r => r.Rows < largest.Rows).MinBy(r => Math.Abs(r.Seconds - largest.Seconds)) is { } twin)
        {
            sb.AppendLine();
            sb.AppendLine(CultureInfo.InvariantCulture, $"The worker's growth follows how long the orchestration runs (its polls and timers), not the data: ×{largest.Scale} ({largest.Rows:N0} rows, {largest.Seconds:0.0} s) peaked at {largest.WorkerPeakMiB:0} MiB and ×{twin.Scale} with {twin.Rounds} rounds ({twin.Rows:N0} rows, {twin.Seconds:0.0} s) at {twin.WorkerPeakMiB:0} MiB, {largest.Rows / (double)twin.Rows:0}× fewer rows for a difference of {largest.WorkerPeakMiB - twin.WorkerPeakMiB:+0;-0;0} MiB; loading the ×{largest.Scale} run would hold {largest.LoadMiB:0} MiB more than nothing.");
        }

        return sb.ToString();
    }
}
