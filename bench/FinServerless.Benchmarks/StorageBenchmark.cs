using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FinServerless.Azurite;
using FinServerless.Native;
using FinServerless.Storage;
using FinServerless.Storage.Blobs;

namespace FinServerless.Benchmarks;

/// <summary>
/// Upload and download of one large blob against the same Azurite, by our .NET client and by the official
/// JavaScript SDK, each in its own process so that peak memory (VmHWM) is the client's alone.
/// </summary>
internal static class StorageBenchmark
{
    private const int BlockSize = 8 * 1024 * 1024;
    private const int Concurrency = 4;

    public static async Task<int> RunAsync(string[] args)
    {
        var sizeMiB = BenchArgs.Int(args, "--size-mib", 1024);
        var repeat = BenchArgs.Int(args, "--repeat", 2);
        var root = RepositoryLayout.Root;
        var work = Directory.CreateTempSubdirectory("finserverless-bench-");
        try
        {
            var file = Path.Combine(work.FullName, "payload.bin");
            Console.WriteLine($"writing a {sizeMiB} MiB file of random bytes to {file}");
            await WriteRandomFileAsync(file, (long)sizeMiB * 1024 * 1024);

            var location = Directory.CreateDirectory(Path.Combine(work.FullName, "azurite")).FullName;
            await using var azurite = await AzuriteServer.StartAsync(new AzuriteOptions { Location = location, SkipApiVersionCheck = true });
            Console.WriteLine($"Azurite: {azurite.BlobEndpoint}");

            var runs = new List<SideResult>();
            for (var i = 1; i <= repeat; i++)
            {
                foreach (var side in new[] { "dotnet", "js" })
                {
                    var result = side == "dotnet"
                        ? await RunWorkerAsync(DotnetWorker(azurite, file))
                        : await RunWorkerAsync(("node", [Path.Combine(root, "bench", "storage", "js-sdk.mjs"), azurite.BlobEndpoint.ToString(), AzuriteServer.AccountName, AzuriteServer.AccountKey, "bench-js", file, BlockSize.ToString(CultureInfo.InvariantCulture), Concurrency.ToString(CultureInfo.InvariantCulture)]));
                    Console.WriteLine($"  run {i} {result.Side}: upload {result.UploadMiBs:0} MiB/s, download {result.DownloadMiBs:0} MiB/s, peak RSS {result.PeakRssMiB:0} MiB");
                    runs.Add(result);
                }
            }

            var report = Report(runs, sizeMiB, repeat);
            var results = Path.Combine(root, "bench", "results");
            Directory.CreateDirectory(results);
            await File.WriteAllTextAsync(Path.Combine(results, "storage.md"), report);
            Console.WriteLine();
            Console.WriteLine(report);
            Console.WriteLine($"written to {Path.Combine(results, "storage.md")}");
            return 0;
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>The .NET side, run as its own process: upload the file, download it to nowhere, report.</summary>
    public static async Task<int> WorkerAsync(string[] args)
    {
        var (endpoint, account, key, containerName, file) = (new Uri(args[0]), args[1], args[2], args[3], args[4]);
        var service = new BlobServiceClient(endpoint, new StorageSharedKeyCredential(account, key));
        var container = service.GetBlobContainerClient(containerName);
        await container.CreateIfNotExistsAsync();
        var blob = container.GetBlobClient("bench-dotnet.bin");

        var clock = Stopwatch.StartNew();
        await using (var source = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.SequentialScan))
        {
            await blob.UploadAsync(source, new BlobUploadOptions { BlockSize = BlockSize, SingleUploadThreshold = BlockSize, MaxConcurrency = Concurrency });
        }

        var upload = clock.Elapsed.TotalSeconds;
        clock.Restart();
        long received = 0;
        await using (var download = await blob.OpenReadAsync())
        {
            var buffer = new byte[1024 * 1024];
            int n;
            while ((n = await download.ReadAsync(buffer)) > 0)
            {
                received += n;
            }
        }

        var downloadSeconds = clock.Elapsed.TotalSeconds;
        var size = new FileInfo(file).Length;
        if (received != size)
        {
            throw new InvalidOperationException($"downloaded {received} bytes of {size}");
        }

        Console.WriteLine(JsonSerializer.Serialize(new SideResult("FinServerless.Storage (.NET)", size, upload, downloadSeconds, MachineInfo.PeakRssMiB())));
        return 0;
    }

    private static (string FileName, string[] Args) DotnetWorker(AzuriteServer azurite, string file)
    {
        var self = typeof(StorageBenchmark).Assembly.Location;
        return ("dotnet", [self, "storage-worker", azurite.BlobEndpoint.ToString(), AzuriteServer.AccountName, AzuriteServer.AccountKey, "bench-dotnet", file]);
    }

    private static async Task<SideResult> RunWorkerAsync((string FileName, string[] Args) command)
    {
        var psi = new ProcessStartInfo(command.FileName) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in command.Args)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var line = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.StartsWith('{'));
        if (process.ExitCode != 0 || line is null)
        {
            throw new InvalidOperationException($"{command.FileName} worker failed (exit {process.ExitCode}): {await stderr}");
        }

        return JsonSerializer.Deserialize<SideResult>(line, new JsonSerializerOptions { PropertyNameCaseInsensitive = true })!;
    }

    private static string Report(List<SideResult> runs, int sizeMiB, int repeat)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Storage benchmark: one large blob, our client vs the official JavaScript SDK");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Machine: {MachineInfo.Describe()}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Blob: {sizeMiB} MiB of random bytes from a local file; block size {BlockSize / 1024 / 1024} MiB, {Concurrency} blocks in flight on both sides");
        sb.AppendLine("- Server: Azurite 3.37.0 (npm), local disk, started by the benchmark; both clients in the same run, each in its own process");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Figures: best of {repeat} runs for throughput, highest peak RSS (VmHWM) across runs; MiB/s = 2^20 bytes per second");
        sb.AppendLine("- Command: `./eng/bench.sh storage`");
        sb.AppendLine();
        sb.AppendLine("| client | upload MiB/s | download MiB/s | peak RSS MiB |");
        sb.AppendLine("|---|---:|---:|---:|");
        foreach (var group in runs.GroupBy(r => r.Side))
        {
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {group.Key} | {group.Max(r => r.UploadMiBs):0} | {group.Max(r => r.DownloadMiBs):0} | {group.Max(r => r.PeakRssMiB):0} |");
        }

        sb.AppendLine();
        sb.AppendLine("Every run:");
        sb.AppendLine();
        foreach (var r in runs)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"- {r.Side}: upload {r.UploadSeconds:0.00} s, download {r.DownloadSeconds:0.00} s, peak RSS {r.PeakRssMiB:0} MiB");
        }

        return sb.ToString();
    }

    private static async Task WriteRandomFileAsync(string path, long length)
    {
        var buffer = new byte[4 * 1024 * 1024];
        await using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1);
        for (long written = 0; written < length; written += buffer.Length)
        {
            RandomNumberGenerator.Fill(buffer);
            await file.WriteAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, length - written)));
        }
    }


    private sealed record SideResult(string Side, long Bytes, double UploadSeconds, double DownloadSeconds, double PeakRssMiB)
    {
        public double UploadMiBs => Bytes / 1048576.0 / UploadSeconds;

        public double DownloadMiBs => Bytes / 1048576.0 / DownloadSeconds;
    }
}
