using System.Globalization;
using System.Text;
using System.Text.Json;
using FinServerless.Native;

namespace FinServerless.Benchmarks;

/// <summary>
/// Validate + normalize + write of a 5-million-row Give Me Some Credit-shaped file: our ingest CLI against a
/// pandas script doing the same validations and writing the same outputs, in one run; then a ~2 GiB file to
/// show that memory stays flat.
/// </summary>
internal static class IngestBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var root = RepositoryLayout.Root;
        var source = RepositoryLayout.GmscTrainingPath;
        if (!File.Exists(source))
        {
            Console.WriteLine($"skipped: the ingest benchmark needs {source} (Give Me Some Credit; not redistributable).");
            return 0;
        }

        var rows = BenchArgs.Int(args, "--rows", 5_000_000);
        var largeGiB = BenchArgs.Int(args, "--large-gib", 2);
        var repeat = BenchArgs.Int(args, "--repeat", 3);
        var cli = Path.Combine(root, "tools", "FinServerless.Cli", "bin", "Release", "net10.0", "finserverless.dll");
        var contract = Path.Combine(root, "samples", "give-me-some-credit", "contract.json");
        var work = Directory.CreateTempSubdirectory("finserverless-ingest-bench-");
        try
        {
            var file = Path.Combine(work.FullName, "gmsc-5m.csv");
            var bytes = WriteRepeated(source, file, rows);
            Console.WriteLine($"input: {rows:N0} rows, {bytes / 1e6:0} MB ({file})");

            var ours = new List<JsonElement>();
            for (var i = 0; i < repeat; i++)
            {
                var outDir = Path.Combine(work.FullName, $"ours-{i}");
                FlushPageCache();
                var r = await ProcessRunner.RunJsonAsync("dotnet", cli, "ingest", "--file", file, "--contract", contract, "--out", outDir, "--run-id", "bench", "--json");
                Console.WriteLine($"  FinServerless run {i + 1}: {r.GetProperty("seconds").GetDouble():0.00} s, peak {r.GetProperty("peakRssMiB").GetDouble():0} MiB");
                ours.Add(r);
                Directory.Delete(outDir, recursive: true);
            }

            // One core: the process pinned to a single CPU (reader, worker, hashing and writes all share it).
            var oneCore = new List<JsonElement>();
            if (File.Exists("/usr/bin/taskset"))
            {
                for (var i = 0; i < repeat; i++)
                {
                    var outDir = Path.Combine(work.FullName, $"one-core-{i}");
                    FlushPageCache();
                    var r = await ProcessRunner.RunJsonAsync("/usr/bin/taskset", "-c", "0", "dotnet", cli, "ingest", "--file", file, "--contract", contract, "--out", outDir, "--run-id", "bench", "--workers", "1", "--json");
                    Console.WriteLine($"  FinServerless on one core, run {i + 1}: {r.GetProperty("seconds").GetDouble():0.00} s");
                    oneCore.Add(r);
                    Directory.Delete(outDir, recursive: true);
                }
            }

            Console.WriteLine("  pandas: running (about a minute)…");
            var pandas = await ProcessRunner.RunJsonAsync("/usr/bin/python3", Path.Combine(root, "bench", "ingest", "pandas_ingest.py"), file, Path.Combine(work.FullName, "pandas"));
            Console.WriteLine($"  pandas: {pandas.GetProperty("seconds").GetDouble():0.00} s, peak {pandas.GetProperty("peakRssMiB").GetDouble():0} MiB");
            File.Delete(file);

            JsonElement? large = null;
            if (largeGiB > 0)
            {
                var bigFile = Path.Combine(work.FullName, "gmsc-large.csv");
                var bigRows = (int)(largeGiB * 1024L * 1024 * 1024 / (bytes / (double)rows));
                var bigBytes = WriteRepeated(source, bigFile, bigRows);
                Console.WriteLine($"large input: {bigRows:N0} rows, {bigBytes / 1024.0 / 1024 / 1024:0.00} GiB");
                large = await ProcessRunner.RunJsonAsync("dotnet", cli, "ingest", "--file", bigFile, "--contract", contract, "--out", Path.Combine(work.FullName, "large"), "--run-id", "bench-large", "--json");
                Console.WriteLine($"  FinServerless: {large.Value.GetProperty("seconds").GetDouble():0.00} s, peak {large.Value.GetProperty("peakRssMiB").GetDouble():0} MiB");
            }

            var report = Report(rows, bytes, ours, oneCore, pandas, large);
            var results = Path.Combine(root, "bench", "results");
            Directory.CreateDirectory(results);
            await File.WriteAllTextAsync(Path.Combine(results, "ingest.md"), report);
            Console.WriteLine();
            Console.WriteLine(report);
            return 0;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>Writes dirty pages out before a timed run, so the previous run's files are not written back during it.</summary>
    private static void FlushPageCache()
    {
        using var sync = System.Diagnostics.Process.Start("sync");
        sync?.WaitForExit();
    }

    internal static long WriteRepeated(string source, string target, int rows)
    {
        var lines = File.ReadAllLines(source);
        var data = lines.Skip(1).Where(l => l.Length > 0).Select(l => l[(l.IndexOf(',') + 1)..]).ToArray();
        using var writer = new StreamWriter(target, false, new UTF8Encoding(false), 1 << 20) { NewLine = "\r\n" };
        writer.WriteLine(lines[0]);
        for (var i = 0; i < rows; i++)
        {
            writer.Write((i + 1).ToString(CultureInfo.InvariantCulture));
            writer.Write(',');
            writer.WriteLine(data[i % data.Length]);
        }

        writer.Flush();
        // Let the generated file reach the disk first, so write-back does not compete with the timed runs.
        ((FileStream)writer.BaseStream).Flush(flushToDisk: true);
        return writer.BaseStream.Length;
    }

    private static string Report(int rows, long bytes, List<JsonElement> ours, List<JsonElement> oneCore, JsonElement pandas, JsonElement? large)
    {
        double Seconds(JsonElement e) => e.GetProperty("seconds").GetDouble();
        double Cpu(JsonElement e) => e.GetProperty("cpuSeconds").GetDouble();
        double Peak(JsonElement e) => e.GetProperty("peakRssMiB").GetDouble();
        var best = ours.MinBy(Seconds);
        var mb = bytes / 1e6;
        var sb = new StringBuilder();
        sb.AppendLine("# Ingest benchmark: validate + normalize + write, FinServerless vs pandas");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Machine: {MachineInfo.Describe()}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Input: {rows:N0} rows ({mb:0} MB) built by repeating Give Me Some Credit's training rows with fresh ids; CRLF, `NA` for missing");
        sb.AppendLine("- Work: the contract samples/give-me-some-credit/contract.json (types, ranges, 96/98 sentinels, the age rule), rejected rows to quarantine with reasons, curated CSV, SHA-256 of input and parts, a per-column profile, a manifest");
        sb.AppendLine("- FinServerless: `finserverless ingest` (tools/FinServerless.Cli), one process per run; pandas: bench/ingest/pandas_ingest.py under Debian's python3-pandas");
        sb.AppendLine("- Command: `./eng/bench.sh ingest`");
        sb.AppendLine();
        sb.AppendLine("| side | seconds | rows/s | MB/s | peak RSS MiB | rows curated / quarantined |");
        sb.AppendLine("|---|---:|---:|---:|---:|---|");
        sb.AppendLine(CultureInfo.InvariantCulture, $"| FinServerless (best of {ours.Count}) | {Seconds(best):0.00} | {rows / Seconds(best):N0} | {mb / Seconds(best):0.0} | {Peak(best):0} | {best.GetProperty("rowsAccepted").GetInt64():N0} / {best.GetProperty("rowsRejected").GetInt64():N0} |");
        sb.AppendLine(CultureInfo.InvariantCulture, $"| {pandas.GetProperty("side").GetString()} | {Seconds(pandas):0.00} | {rows / Seconds(pandas):N0} | {mb / Seconds(pandas):0.0} | {Peak(pandas):0} | {pandas.GetProperty("rowsAccepted").GetInt64():N0} / {pandas.GetProperty("rowsRejected").GetInt64():N0} |");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Speed-up over pandas: **{Seconds(pandas) / Seconds(best):0.0}×**.");
        sb.AppendLine();
        sb.AppendLine("Per core (the run's CPU time on all threads, in the process, from reading the contract to the committed manifest; pandas runs on one core):");
        sb.AppendLine();
        sb.AppendLine("| measure | CPU seconds | MB/s per core |");
        sb.AppendLine("|---|---:|---:|");
        var cpus = ours.Select(Cpu).Order().ToList();
        var medianCpu = cpus[cpus.Count / 2];
        sb.AppendLine(CultureInfo.InvariantCulture, $"| FinServerless, {Environment.ProcessorCount} cores, MB ÷ CPU seconds (median of {ours.Count}) | {medianCpu:0.00} | **{mb / medianCpu:0.0}** |");
        if (oneCore.Count > 0)
        {
            var pinned = oneCore.MinBy(Seconds);
            sb.AppendLine(CultureInfo.InvariantCulture, $"| FinServerless pinned to one core (`taskset -c 0`, `--workers 1`), MB ÷ wall seconds (best of {oneCore.Count}) | {Cpu(pinned):0.00} | **{mb / Seconds(pinned):0.0}** |");
        }

        sb.AppendLine(CultureInfo.InvariantCulture, $"| pandas | {Seconds(pandas):0.00} | {mb / Seconds(pandas):0.0} |");
        if (large is { } l)
        {
            var gib = l.GetProperty("inputBytes").GetInt64() / 1024.0 / 1024 / 1024;
            sb.AppendLine();
            sb.AppendLine(CultureInfo.InvariantCulture, $"Flat memory: a {gib:0.00} GiB input ({l.GetProperty("rowsRead").GetInt64():N0} rows) took {Seconds(l):0.0} s ({l.GetProperty("inputBytes").GetInt64() / 1e6 / Seconds(l):0.0} MB/s) with a peak RSS of **{Peak(l):0} MiB**.");
        }

        sb.AppendLine();
        sb.AppendLine("Every FinServerless run: " + string.Join("; ", ours.Select(o => string.Create(CultureInfo.InvariantCulture, $"{Seconds(o):0.00} s ({Cpu(o):0.00} s CPU), {Peak(o):0} MiB"))));
        if (oneCore.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Every one-core run: " + string.Join("; ", oneCore.Select(o => string.Create(CultureInfo.InvariantCulture, $"{Seconds(o):0.00} s"))));
        }
        return sb.ToString();
    }
}
