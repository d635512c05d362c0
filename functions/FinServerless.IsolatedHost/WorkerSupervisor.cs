using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using FinServerless.IsolatedHost.Rpc;
using Microsoft.Extensions.Logging;

namespace FinServerless.IsolatedHost;

/// <summary>
/// Owns the app's isolated worker process: starts it as the Functions host does (its arguments and environment),
/// performs the handshake (init, metadata, load), restarts it when it dies, and stops it with the host. On Linux the
/// worker is started under <c>setpriv --pdeathsig KILL</c> from a thread that lives as long as the worker, so the
/// kernel ends the worker if the host process dies for any reason (SIGKILL included): a worker never outlives its host.
/// </summary>
internal sealed class WorkerSupervisor : IAsyncDisposable
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(60);
    private readonly HostConfiguration _config;
    private readonly RpcEndpoint _endpoint;
    private readonly Uri _rpcUri;
    private readonly ILogger _log;
    private readonly ILogger _workerLog;
    private readonly CancellationTokenSource _stopping = new();
    private readonly object _gate = new();
    private TaskCompletionSource<Worker> _current = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task? _watch;

    public WorkerSupervisor(HostConfiguration config, RpcEndpoint endpoint, Uri rpcUri, ILoggerFactory logs)
    {
        _config = config;
        _endpoint = endpoint;
        _rpcUri = rpcUri;
        _log = logs.CreateLogger("Host.Worker");
        _workerLog = logs.CreateLogger("Worker");
    }

    /// <summary>The functions the worker indexed at first start.</summary>
    public IReadOnlyList<RpcFunctionMetadata> Functions { get; private set; } = [];

    /// <summary>The worker's own HTTP server (ASP.NET Core integration), from its init response; null without it.</summary>
    public Uri? HttpUri { get; private set; }

    /// <summary>How many times the worker was restarted after it died.</summary>
    public int Restarts { get; private set; }

    /// <summary>The running worker's process id, or null while none runs.</summary>
    public int? ProcessId => _current.Task.IsCompletedSuccessfully ? _current.Task.Result.Process.Id : null;

    /// <summary>Starts the worker and indexes its functions; fails with the reason when the worker cannot start.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var worker = await LaunchAsync(cancellationToken).ConfigureAwait(false);
        Functions = worker.Functions;
        _current.SetResult(worker);
        _watch = WatchAsync(worker);
    }

    /// <summary>The running worker; waits while a dead worker is being replaced.</summary>
    public async Task<(WorkerChannel Channel, IReadOnlyDictionary<string, string> FunctionIds)> CurrentAsync(CancellationToken cancellationToken)
    {
        Task<Worker> current;
        lock (_gate)
        {
            current = _current.Task;
        }

        var worker = await current.WaitAsync(cancellationToken).ConfigureAwait(false);
        return (worker.Channel, worker.FunctionIds);
    }

    /// <summary>Asks the worker to stop (WorkerTerminate), waits up to <paramref name="grace"/>, then kills it.</summary>
    public async Task StopAsync(TimeSpan grace)
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }

        _stopping.Cancel();
        Worker? worker;
        lock (_gate)
        {
            worker = _current.Task.IsCompletedSuccessfully ? _current.Task.Result : null;
        }

        if (worker is null)
        {
            return;
        }

        // What the worker started (a local training process, say) must not outlive the host either.
        var tree = ProcessTree.Supported ? ProcessTree.Snapshot(worker.Process.Id).Where(m => m.Pid != worker.Process.Id).ToList() : [];
        try
        {
            await worker.Channel.SendAsync(new StreamingMessage { WorkerTerminate = new WorkerTerminate { GracePeriod = Google.Protobuf.WellKnownTypes.Duration.FromTimeSpan(grace) } }).ConfigureAwait(false);
            await worker.Process.WaitForExitAsync().WaitAsync(grace).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or WorkerUnavailableException or InvalidOperationException)
        {
            _log.LogDebug("worker did not stop on request ({Reason}); killing it", ex.Message);
        }

        Kill(worker.Process);
        if (tree.Count > 0)
        {
            var killed = await ProcessTree.StopAsync(tree, TimeSpan.FromSeconds(2)).ConfigureAwait(false);
            _log.LogInformation("stopped {Count} process(es) the worker had started: {Processes} ({Killed} needed SIGKILL)", tree.Count, string.Join(", ", tree), killed.Count);
        }

        if (_watch is not null)
        {
            await _watch.ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(TimeSpan.FromSeconds(2)).ConfigureAwait(false);
        _stopping.Dispose();
    }

    private async Task WatchAsync(Worker worker)
    {
        var failures = 0;
        while (true)
        {
            await Task.WhenAny(worker.Exited, worker.Channel.Closed).ConfigureAwait(false);
            if (_stopping.IsCancellationRequested)
            {
                return;
            }

            // Take the dead worker out first: new invocations wait for its successor, those in flight have failed.
            lock (_gate)
            {
                _current = new TaskCompletionSource<Worker>(TaskCreationOptions.RunContinuationsAsynchronously);
            }

            Kill(worker.Process);
            var ranFor = DateTime.UtcNow - worker.StartedAt;
            failures = ranFor > TimeSpan.FromMinutes(1) ? 1 : failures + 1;
            var delay = TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, failures - 1)));
            _log.LogWarning("The worker process {Pid} exited ({Exit}) after {Seconds:N0} s; invocations in flight failed and are retried by their triggers. Restarting it in {Delay:N0} s.",
                worker.Process.Id, worker.ExitDescription, ranFor.TotalSeconds, delay.TotalSeconds);
            while (true)
            {
                try
                {
                    await Task.Delay(delay, _stopping.Token).ConfigureAwait(false);
                    worker = await LaunchAsync(_stopping.Token).ConfigureAwait(false);
                    Restarts++;
                    lock (_gate)
                    {
                        _current.SetResult(worker);
                    }

                    _log.LogInformation("The worker was restarted (process {Pid}, restart {Restarts}).", worker.Process.Id, Restarts);
                    break;
                }
                catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                {
                    return;
                }
                catch (WorkerStartException ex)
                {
                    failures++;
                    delay = TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, failures - 1)));
                    _log.LogError("The worker could not be restarted: {Reason}. Trying again in {Delay:N0} s.", ex.Message, delay.TotalSeconds);
                }
            }
        }
    }

    private async Task<Worker> LaunchAsync(CancellationToken cancellationToken)
    {
        var (executable, entry) = ReadWorkerConfig(_config.AppDirectory);
        var workerId = Guid.NewGuid().ToString();
        var requestId = Guid.NewGuid().ToString();
        var connected = _endpoint.Expect(workerId, ForwardLog);
        var arguments = new List<string>
        {
            entry,
            "--host", _rpcUri.Host, "--port", _rpcUri.Port.ToString(CultureInfo.InvariantCulture),
            "--workerId", workerId, "--requestId", requestId, "--grpcMaxMessageLength", int.MaxValue.ToString(CultureInfo.InvariantCulture),
            "--functions-uri", _rpcUri.AbsoluteUri, "--functions-worker-id", workerId, "--functions-request-id", requestId,
            "--functions-grpc-max-message-length", int.MaxValue.ToString(CultureInfo.InvariantCulture),
        };
        var start = new ProcessStartInfo
        {
            WorkingDirectory = _config.AppDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (OperatingSystem.IsLinux() && File.Exists("/usr/bin/setpriv"))
        {
            start.FileName = "/usr/bin/setpriv";
            start.ArgumentList.Add("--pdeathsig");
            start.ArgumentList.Add("KILL");
            start.ArgumentList.Add(executable);
        }
        else
        {
            start.FileName = executable;
        }

        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in _config.Values)
        {
            start.Environment[name.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        start.Environment["FUNCTIONS_WORKER_RUNTIME"] = "dotnet-isolated";
        start.Environment["FUNCTIONS_APPLICATION_DIRECTORY"] = _config.AppDirectory;
        start.Environment["FUNCTIONS_WORKER_DIRECTORY"] = _config.AppDirectory;
        start.Environment["AZURE_FUNCTIONS_ENVIRONMENT"] = start.Environment.TryGetValue("AZURE_FUNCTIONS_ENVIRONMENT", out var environment) && !string.IsNullOrEmpty(environment) ? environment : "Development";

        var started = new TaskCompletionSource<Process>(TaskCreationOptions.RunContinuationsAsynchronously);
        var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // The thread that starts the worker is its "parent" for PR_SET_PDEATHSIG: it lives until the worker exits.
        string? startupFailure = null;
        var thread = new Thread(() =>
        {
            Process process;
            try
            {
                process = Process.Start(start) ?? throw new WorkerStartException($"could not start '{start.FileName}'");
            }
            catch (Exception ex)
            {
                started.TrySetException(ex is WorkerStartException ? ex : new WorkerStartException($"could not start '{executable} {entry}': {ex.Message}"));
                return;
            }

            process.OutputDataReceived += (_, e) => Console(e.Data, LogLevel.Information);
            process.ErrorDataReceived += (_, e) =>
            {
                // The reason a worker died at start-up (an unhandled exception, such as a bad setting) goes into the error.
                if (e.Data?.StartsWith("Unhandled exception. ", StringComparison.Ordinal) == true)
                {
                    startupFailure ??= e.Data["Unhandled exception. ".Length..];
                }

                Console(e.Data, LogLevel.Warning);
            };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            started.TrySetResult(process);
            process.WaitForExit();
            exited.TrySetResult();
        })
        {
            IsBackground = true,
            Name = "worker-" + workerId[..8],
        };
        thread.Start();
        var worker = await started.Task.ConfigureAwait(false);
        var startedAt = DateTime.UtcNow;
        try
        {
            var first = await Task.WhenAny(connected, exited.Task, Task.Delay(ConnectTimeout, cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            if (first != connected)
            {
                throw first == exited.Task
                    ? new WorkerStartException(startupFailure is { } reason
                        ? $"the worker exited with code {worker.ExitCode} before it connected: {reason}"
                        : $"the worker exited with code {worker.ExitCode} before it connected (see its output above)")
                    : new TimeoutException();
            }

            var channel = await connected.ConfigureAwait(false);
            var (functions, ids, httpUri) = await HandshakeAsync(channel, cancellationToken).ConfigureAwait(false);
            HttpUri = httpUri;
            _log.LogInformation("Worker process {Pid} is ready: {Count} functions ({Names}).", worker.Id, functions.Count, string.Join(", ", functions.Select(f => f.Name)));
            return new Worker(worker, channel, exited.Task, startedAt, functions, ids);
        }
        catch (Exception ex)
        {
            _endpoint.Forget(workerId);
            Kill(worker);
            throw ex switch
            {
                WorkerStartException => ex,
                TimeoutException => new WorkerStartException($"the worker did not connect to the host within {ConnectTimeout.TotalSeconds:N0} s"),
                WorkerUnavailableException => new WorkerStartException("the worker closed its connection during the handshake"),
                _ => ex,
            };
        }
    }

    private async Task<(IReadOnlyList<RpcFunctionMetadata>, IReadOnlyDictionary<string, string>, Uri?)> HandshakeAsync(WorkerChannel channel, CancellationToken cancellationToken)
    {
        var init = (await channel.RequestAsync("init", new StreamingMessage
        {
            RequestId = Guid.NewGuid().ToString(),
            WorkerInitRequest = new WorkerInitRequest { HostVersion = HostVersion, WorkerDirectory = _config.AppDirectory, FunctionAppDirectory = _config.AppDirectory },
        }, cancellationToken).ConfigureAwait(false)).WorkerInitResponse;
        Ensure(init.Result, "WorkerInitRequest");
        Uri? httpUri = init.Capabilities.TryGetValue("HttpUri", out var uri) ? new Uri(uri) : null;

        var metadata = (await channel.RequestAsync("metadata", new StreamingMessage
        {
            FunctionsMetadataRequest = new FunctionsMetadataRequest { FunctionAppDirectory = _config.AppDirectory },
        }, cancellationToken).ConfigureAwait(false)).FunctionMetadataResponse;
        Ensure(metadata.Result, "FunctionsMetadataRequest");
        if (metadata.UseDefaultMetadataIndexing)
        {
            throw new WorkerStartException("the worker asks the host to index functions.metadata itself; this host needs worker indexing (Microsoft.Azure.Functions.Worker.Sdk 2.x does it by default)");
        }

        var ids = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var function in metadata.FunctionMetadataResults)
        {
            function.Directory = _config.AppDirectory;
            var load = (await channel.RequestAsync("load:" + function.FunctionId, new StreamingMessage
            {
                FunctionLoadRequest = new FunctionLoadRequest { FunctionId = function.FunctionId, Metadata = function },
            }, cancellationToken).ConfigureAwait(false)).FunctionLoadResponse;
            Ensure(load.Result, $"FunctionLoadRequest for {function.Name}");
            ids[function.Name] = function.FunctionId;
        }

        return (metadata.FunctionMetadataResults.ToList(), ids, httpUri);
    }

    /// <summary>The Functions host version this host presents itself as (major 4, as the worker expects).</summary>
    internal const string HostVersion = "4.1045.0.0";

    private static void Ensure(StatusResult? result, string step)
    {
        if (result?.Status != StatusResult.Types.Status.Success)
        {
            throw new WorkerStartException($"the worker failed {step}: {result?.Exception?.Message ?? result?.Result ?? "no result"}");
        }
    }

    private static (string Executable, string Entry) ReadWorkerConfig(string appDirectory)
    {
        var path = Path.Combine(appDirectory, "worker.config.json");
        var description = JsonNode.Parse(File.ReadAllText(path))?["description"];
        var executable = description?["defaultExecutablePath"]?.GetValue<string>() ?? "dotnet";
        var entry = description?["defaultWorkerPath"]?.GetValue<string>()
            ?? throw new HostConfigurationException($"{path}: description.defaultWorkerPath is missing.");
        entry = Path.Combine(appDirectory, entry);
        if (!File.Exists(entry))
        {
            throw new HostConfigurationException($"{path}: the worker '{entry}' does not exist (build the app first).");
        }

        return (executable, entry);
    }

    private void ForwardLog(RpcLog log)
    {
        if (log.LogCategory == RpcLog.Types.RpcLogCategory.CustomMetric)
        {
            return;
        }

        var level = log.Level switch
        {
            RpcLog.Types.Level.Trace => LogLevel.Trace,
            RpcLog.Types.Level.Debug => LogLevel.Debug,
            RpcLog.Types.Level.Information => LogLevel.Information,
            RpcLog.Types.Level.Warning => LogLevel.Warning,
            RpcLog.Types.Level.Error => LogLevel.Error,
            RpcLog.Types.Level.Critical => LogLevel.Critical,
            _ => LogLevel.None,
        };
        // The worker's own framework logs (its Kestrel, routing, hosting) are noise below a warning; the app's logs pass.
        var framework = log.LogCategory == RpcLog.Types.RpcLogCategory.System
            || log.Category.StartsWith("Microsoft.", StringComparison.Ordinal) || log.Category.StartsWith("System.", StringComparison.Ordinal);
        if (level == LogLevel.None || (framework && level < LogLevel.Warning) || !_workerLog.IsEnabled(level))
        {
            return;
        }

        var exception = log.Exception is { } e ? $" [{e.Type}: {e.Message}]" : string.Empty;
        if (string.IsNullOrEmpty(log.InvocationId))
        {
            _workerLog.Log(level, "{Category}: {Message}{Exception}", log.Category, log.Message, exception);
        }
        else
        {
            _workerLog.Log(level, "{Category}: {Message}{Exception} (invocation {InvocationId})", log.Category, log.Message, exception, log.InvocationId);
        }
    }

    private void Console(string? line, LogLevel level)
    {
        if (!string.IsNullOrWhiteSpace(line))
        {
            _workerLog.Log(level, "{Line}", line);
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // Already gone.
        }
    }

    private sealed record Worker(Process Process, WorkerChannel Channel, Task Exited, DateTime StartedAt, IReadOnlyList<RpcFunctionMetadata> Functions, IReadOnlyDictionary<string, string> FunctionIds)
    {
        public string ExitDescription => Process.HasExited ? $"exit code {Process.ExitCode}" : "its connection closed";
    }
}

/// <summary>The worker process could not be started or did not complete its handshake.</summary>
public sealed class WorkerStartException(string message) : Exception(message);
