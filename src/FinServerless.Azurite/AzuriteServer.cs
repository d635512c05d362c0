using System.Diagnostics;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using FinServerless.Native;

namespace FinServerless.Azurite;

/// <summary>
/// A running Azurite (the npm package pinned in eng/package.json), on ports the operating system chose.
/// Dispose stops it and removes its temporary workspace.
/// </summary>
public sealed partial class AzuriteServer : IAsyncDisposable, IDisposable
{
    /// <summary>The well-known development account that Azurite serves.</summary>
    public const string AccountName = "devstoreaccount1";

    /// <summary>The well-known development account key (public, documented by Azurite; never a real secret).</summary>
    public const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private readonly Process _process;
    private readonly string? _ownedLocation;
    private readonly List<string> _output;
    private int _disposed;

    private AzuriteServer(Process process, string? ownedLocation, List<string> output, int blobPort, int queuePort, int tablePort)
    {
        _process = process;
        _ownedLocation = ownedLocation;
        _output = output;
        BlobEndpoint = new Uri($"http://127.0.0.1:{blobPort}/{AccountName}");
        QueueEndpoint = new Uri($"http://127.0.0.1:{queuePort}/{AccountName}");
        TableEndpoint = new Uri($"http://127.0.0.1:{tablePort}/{AccountName}");
    }

    /// <summary>Blob service endpoint (path style, account in the path).</summary>
    public Uri BlobEndpoint { get; }

    /// <summary>Queue service endpoint.</summary>
    public Uri QueueEndpoint { get; }

    /// <summary>Table service endpoint.</summary>
    public Uri TableEndpoint { get; }

    /// <summary>A connection string in the form Azure Functions and the Storage SDKs read.</summary>
    public string ConnectionString =>
        $"DefaultEndpointsProtocol=http;AccountName={AccountName};AccountKey={AccountKey};" +
        $"BlobEndpoint={BlobEndpoint};QueueEndpoint={QueueEndpoint};TableEndpoint={TableEndpoint};";

    /// <summary>Whether the Azurite process is still running.</summary>
    public bool IsRunning => Volatile.Read(ref _disposed) == 0 && !_process.HasExited;

    /// <summary>Starts Azurite and returns once its blob, queue and table services answer.</summary>
    public static async Task<AzuriteServer> StartAsync(AzuriteOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new AzuriteOptions();
        var (node, script) = AzuriteInstallation.Locate();

        string? owned = null;
        var location = options.Location;
        if (!options.InMemory && location is null)
        {
            owned = location = Directory.CreateTempSubdirectory("finserverless-azurite-").FullName;
        }

        var psi = new ProcessStartInfo(node)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(script);
        foreach (var arg in new[]
                 {
                     "--blobPort", options.BlobPort.ToString(), "--queuePort", options.QueuePort.ToString(),
                     "--tablePort", options.TablePort.ToString(), "--disableTelemetry", "--silent",
                 })
        {
            psi.ArgumentList.Add(arg);
        }

        if (options.SkipApiVersionCheck)
        {
            psi.ArgumentList.Add("--skipApiVersionCheck");
        }

        if (options.InMemory)
        {
            psi.ArgumentList.Add("--inMemoryPersistence");
        }
        else
        {
            psi.ArgumentList.Add("--location");
            psi.ArgumentList.Add(location!);
        }

        var output = new List<string>();
        var ports = new Dictionary<string, int>();
        var ready = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (output)
            {
                if (output.Count < 200)
                {
                    output.Add(line);
                }

                var m = ListeningLine().Match(line);
                if (m.Success)
                {
                    ports[m.Groups["svc"].Value] = int.Parse(m.Groups["port"].Value);
                    if (ports.Count == 3)
                    {
                        ready.TrySetResult();
                    }
                }
            }
        }

        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) => ready.TrySetException(new InvalidOperationException("Azurite exited during start-up."));

        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start Azurite with '{node} {script}'.");
        }

        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.StartTimeout);
        try
        {
            await ready.Task.WaitAsync(timeout.Token).ConfigureAwait(false);
            var server = new AzuriteServer(process, owned, output, ports["Blob"], ports["Queue"], ports["Table"]);
            await server.WaitUntilAnsweringAsync(timeout.Token).ConfigureAwait(false);
            return server;
        }
        catch (Exception ex) when (ex is OperationCanceledException or InvalidOperationException or SocketException)
        {
            Kill(process);
            DeleteQuietly(owned);
            string said;
            lock (output)
            {
                said = string.Join(" | ", output.TakeLast(10));
            }

            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            throw new InvalidOperationException(
                $"Azurite did not start within {options.StartTimeout.TotalSeconds:0} s ({ex.Message}). It said: {said}. " +
                $"Check `{node} {script} --version` runs, or re-run ./eng/setup.sh.", ex);
        }
    }

    /// <summary>Stops Azurite abruptly (as a crash would), keeping its workspace.</summary>
    public void Kill() => Kill(_process);

    /// <inheritdoc/>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 1)
        {
            return;
        }

        Kill(_process);
        _process.Dispose();
        DeleteQuietly(_ownedLocation);
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public override string ToString() => $"Azurite blob={BlobEndpoint} queue={QueueEndpoint} table={TableEndpoint}";

    private async Task WaitUntilAnsweringAsync(CancellationToken cancellationToken)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        foreach (var endpoint in new[] { BlobEndpoint, QueueEndpoint, TableEndpoint })
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                try
                {
                    // Any HTTP answer (even 4xx for an unsigned request) means the service is up.
                    using var response = await http.GetAsync(endpoint, cancellationToken).ConfigureAwait(false);
                    break;
                }
                catch (HttpRequestException)
                {
                    await Task.Delay(100, cancellationToken).ConfigureAwait(false);
                }
            }
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    private static void DeleteQuietly(string? folder)
    {
        if (folder is null)
        {
            return;
        }

        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    [GeneratedRegex(@"Azurite (?<svc>Blob|Queue|Table) service is successfully listening at https?://[^:]+:(?<port>\d+)")]
    private static partial Regex ListeningLine();
}
