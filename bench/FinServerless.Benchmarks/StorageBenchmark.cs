using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Azure.Storage;
using Azure.Storage.Blobs.Models;
using FinServerless.Azurite;
using FinServerless.Connections;
using FinServerless.Native;

namespace FinServerless.Benchmarks;

/// <summary>
/// Upload and download of one large blob against the same Azurite, by the official .NET SDK (Azure.Storage.Blobs,
/// through our StorageConnection) and by the official JavaScript SDK (@azure/storage-blob), each in its own process
/// so that peak memory (VmHWM) is the client's alone. Both sides get the same block size and blocks in flight for the
/// upload (.NET: StorageTransferOptions; JS: uploadFile's blockSize/concurrency/maxSingleShotSize) and download the
/// blob as one streamed GET to nowhere (.NET: DownloadStreamingAsync; JS: download(0)).
/// </summary>
internal static class StorageBenchmark
{
    public static async Task<int> RunAsync(string[] args)
    {
        var sizeMiB = BenchArgs.Int(args, "--size-mib", 1024);
        var repeat = BenchArgs.Int(args, "--repeat", 2);
        var blockSize = BenchArgs.Int(args, "--block-mib", 8) * 1024 * 1024;
        var concurrency = BenchArgs.Int(args, "--concurrency", 4);
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
                        ? await RunWorkerAsync(DotnetWorker(azurite, file, blockSize, concurrency))
                        : await RunWorkerAsync(("node", [Path.Combine(root, "bench", "storage", "js-sdk.mjs"), azurite.BlobEndpoint.ToString(), AzuriteServer.AccountName, AzuriteServer.AccountKey, "bench-js", file, blockSize.ToString(CultureInfo.InvariantCulture), concurrency.ToString(CultureInfo.InvariantCulture)]));
                    Console.WriteLine($"  run {i} {result.Side}: upload {result.UploadMiBs:0} MiB/s, download {result.DownloadMiBs:0} MiB/s, peak RSS {result.PeakRssMiB:0} MiB");
                    runs.Add(result);
                }
            }

            var report = Report(runs, sizeMiB, repeat, blockSize, concurrency);
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
        var (connectionString, containerName, file) = (args[0], args[1], args[2]);
        var blockSize = int.Parse(args[3], CultureInfo.InvariantCulture);
        var concurrency = int.Parse(args[4], CultureInfo.InvariantCulture);
        var service = StorageConnection.FromConnectionString(connectionString, "benchmark connection").CreateBlobServiceClient();
        var container = service.GetBlobContainerClient(containerName);
        await container.CreateIfNotExistsAsync();
        var blob = container.GetBlobClient("bench-dotnet.bin");
        var transfer = new StorageTransferOptions
        {
            InitialTransferSize = blockSize,
            MaximumTransferSize = blockSize,
            MaximumConcurrency = concurrency,
        };

        var clock = Stopwatch.StartNew();
        await blob.UploadAsync(file, new BlobUploadOptions { TransferOptions = transfer });
        var upload = clock.Elapsed.TotalSeconds;

        clock.Restart();
        long received;
        var response = await blob.DownloadStreamingAsync();
        await using (var body = response.Value.Content)
        {
            var buffer = new byte[1024 * 1024];
            received = 0;
            int n;
            while ((n = await body.ReadAsync(buffer)) > 0)
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

        Console.WriteLine(JsonSerializer.Serialize(new SideResult(".NET Azure.Storage.Blobs " + SdkVersion(), size, upload, downloadSeconds, MachineInfo.PeakRssMiB())));
        return 0;
    }

    private static string SdkVersion() =>
        typeof(Azure.Storage.Blobs.BlobClient).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyInformationalVersionAttribute), false)
            .OfType<System.Reflection.AssemblyInformationalVersionAttribute>().FirstOrDefault()?.InformationalVersion.Split('+')[0] ?? "?";

    private static (string FileName, string[] Args) DotnetWorker(AzuriteServer azurite, string file, int blockSize, int concurrency)
    {
        var self = typeof(StorageBenchmark).Assembly.Location;
        return ("dotnet", [self, "storage-worker", azurite.ConnectionString, "bench-dotnet", file, blockSize.ToString(CultureInfo.InvariantCulture), concurrency.ToString(CultureInfo.InvariantCulture)]);
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

    private static string Report(List<SideResult> runs, int sizeMiB, int repeat, int blockSize, int concurrency)
    {
        var sb = new StringBuilder();
        sb.AppendLine("# Storage benchmark: one large blob, the official .NET SDK vs the official JavaScript SDK");
        sb.AppendLine();
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Date: {DateTimeOffset.UtcNow:yyyy-MM-dd HH:mm} UTC");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Machine: {MachineInfo.Describe()}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Blob: {sizeMiB} MiB of random bytes from a local file; upload in blocks of {blockSize / 1024 / 1024} MiB, {concurrency} in flight on both sides (.NET StorageTransferOptions InitialTransferSize = MaximumTransferSize = {blockSize / 1024 / 1024} MiB, MaximumConcurrency = {concurrency}; JS uploadFile blockSize = maxSingleShotSize = {blockSize / 1024 / 1024} MiB, concurrency = {concurrency}); download as one streamed GET to nowhere on both sides (.NET DownloadStreamingAsync, JS download(0))");
        sb.AppendLine("- Server: Azurite 3.37.0 (npm), local disk, started by the benchmark; both clients in the same run, each in its own process");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Figures: best of {repeat} runs for throughput, highest peak RSS (VmHWM) across runs; MiB/s = 2^20 bytes per second");
        sb.AppendLine(CultureInfo.InvariantCulture, $"- Command: `./eng/bench.sh storage --block-mib {blockSize / 1024 / 1024} --concurrency {concurrency}`");
        sb.AppendLine();
        sb.AppendLine("| client | upload MiB/s | download MiB/s | peak RSS MiB |");
        sb.AppendLine("|---|---:|---:|---:|");
        foreach (var group in runs.GroupBy(r => r.Side))
        {
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"| {group.Key} | {group.Max(r => r.UploadMiBs):0} | {group.Max(r => r.DownloadMiBs):0} | {group.Max(r => r.PeakRssMiB):0} |");
        }

        var dotnet = runs.Where(r => r.Side.StartsWith(".NET", StringComparison.Ordinal)).ToList();
        var js = runs.Where(r => !r.Side.StartsWith(".NET", StringComparison.Ordinal)).ToList();
        if (dotnet.Count > 0 && js.Count > 0)
        {
            var up = dotnet.Max(r => r.UploadMiBs) / js.Max(r => r.UploadMiBs);
            var down = dotnet.Max(r => r.DownloadMiBs) / js.Max(r => r.DownloadMiBs);
            var rss = dotnet.Max(r => r.PeakRssMiB);
            sb.AppendLine();
            sb.AppendLine(CultureInfo.InvariantCulture, $"Goal (.NET ≥ 1.0× JS both ways, ≤ 150 MiB peak RSS): upload {up:0.00}× {(up >= 1.0 ? "met" : "NOT met")}, download {down:0.00}× {(down >= 1.0 ? "met" : "NOT met")}, peak RSS {rss:0} MiB {(rss <= 150 ? "met" : "NOT met")}.");
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
