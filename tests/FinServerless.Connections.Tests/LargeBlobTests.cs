using System.Diagnostics;
using Azure.Storage;
using Azure.Storage.Blobs.Models;
using FinServerless.Testing;
using Xunit.Abstractions;

namespace FinServerless.Connections.Tests;

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryBoundCollection
{
    public const string Name = "memory-bound (runs alone)";
}

/// <summary>1 GiB up and down with the SDK's transfer options, in bounded memory.</summary>
[Collection(MemoryBoundCollection.Name)]
public sealed class LargeBlobTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const long MaxGrowthBytes = 300L * 1024 * 1024;
    private readonly AzuriteFixture _azurite = new();

    public Task InitializeAsync() => _azurite.InitializeAsync();

    public Task DisposeAsync() => _azurite.DisposeAsync();

    [Fact(Timeout = 900_000)]
    public async Task A_1_GiB_blob_round_trips_with_the_same_SHA256_and_the_peak_working_set_grows_by_under_300_MB()
    {
        const long size = 1L << 30;
        var transfer = new StorageTransferOptions
        {
            InitialTransferSize = 8 * 1024 * 1024,
            MaximumTransferSize = 8 * 1024 * 1024,
            MaximumConcurrency = 4,
        };
        var container = _azurite.Blobs.GetBlobContainerClient(AzuriteFixture.UniqueName("large"));
        await container.CreateIfNotExistsAsync();
        var blob = container.GetBlobClient("portfolio-1gib.bin");
        using var source = new PatternStream(size, seed: 42);
        await using var sink = new HashingStream();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        using var peak = new PeakWorkingSet();

        await blob.UploadAsync(source, new BlobUploadOptions { TransferOptions = transfer });
        await blob.DownloadToAsync(sink, new BlobDownloadToOptions { TransferOptions = transfer });
        var growth = peak.Stop();
        output.WriteLine($"peak working set growth: {growth / 1048576.0:0} MiB");

        Assert.Equal(size, source.Position);
        Assert.Equal(size, sink.Written);
        Assert.Equal(size, (await blob.GetPropertiesAsync()).Value.ContentLength);
        Assert.Equal(Convert.ToHexString(source.Sha256), Convert.ToHexString(sink.Sha256));
        Assert.True(growth < MaxGrowthBytes, $"peak working set grew by {growth / 1048576} MiB (limit {MaxGrowthBytes / 1048576} MiB)");
        await container.DeleteIfExistsAsync();
    }

    /// <summary>
    /// Peak resident memory above the level at start. On Linux the kernel's high-water mark (VmHWM) is reset
    /// first (clear_refs 5), so it covers every instant; a 20 ms sampler of the working set backs it up elsewhere.
    /// </summary>
    private sealed class PeakWorkingSet : IDisposable
    {
        private readonly long _start;
        private readonly bool _kernelMark;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _sampler;
        private long _sampled;

        public PeakWorkingSet()
        {
            try
            {
                File.WriteAllText("/proc/self/clear_refs", "5");
                _kernelMark = Status("VmHWM") is not null;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                _kernelMark = false;
            }

            using var self = Process.GetCurrentProcess();
            _start = self.WorkingSet64;
            _sampled = _start;
            _sampler = Task.Run(async () =>
            {
                using var process = Process.GetCurrentProcess();
                while (!_stop.IsCancellationRequested)
                {
                    process.Refresh();
                    _sampled = Math.Max(_sampled, process.WorkingSet64);
                    await Task.Delay(20).ConfigureAwait(false);
                }
            });
        }

        public long Stop()
        {
            _stop.Cancel();
            _sampler.Wait();
            var peak = _kernelMark ? Math.Max(_sampled, Status("VmHWM")!.Value) : _sampled;
            return peak - _start;
        }

        public void Dispose() => _stop.Dispose();

        private static long? Status(string field)
        {
            foreach (var line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith(field + ":", StringComparison.Ordinal))
                {
                    return long.Parse(line[(field.Length + 1)..].Trim().Split(' ')[0]) * 1024;
                }
            }

            return null;
        }
    }
}
