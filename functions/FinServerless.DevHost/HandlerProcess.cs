using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace FinServerless.DevHost;

/// <summary>
/// The custom handler process, started as the Functions host starts it: host.json's defaultExecutablePath and
/// arguments (with %SETTING% expanded) in its working directory, app settings in its environment, and
/// FUNCTIONS_CUSTOMHANDLER_PORT set to a free port; ready when GET / answers.
/// </summary>
public sealed class HandlerProcess : IAsyncDisposable
{
    private readonly Process _process;

    private HandlerProcess(Process process, int port)
    {
        _process = process;
        Port = port;
        Client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromMinutes(10) };
    }

    /// <summary>The handler's port.</summary>
    public int Port { get; }

    /// <summary>A client for the handler.</summary>
    public HttpClient Client { get; }

    /// <summary>Whether the process has exited.</summary>
    public bool HasExited => _process.HasExited;

    /// <summary>The handler's process id.</summary>
    public int ProcessId => _process.Id;

    /// <summary>Starts the handler and waits until it answers (60 s at most).</summary>
    public static async Task<HandlerProcess> StartAsync(FunctionApp app, IReadOnlyDictionary<string, string> settings, Action<string> log, CancellationToken cancellationToken)
    {
        var description = app.Host["customHandler"]!["description"]!;
        string? Setting(string name) => settings.TryGetValue(name, out var v) ? v : Environment.GetEnvironmentVariable(name);
        var workingDirectory = description["workingDirectory"]?.GetValue<string>() is { Length: > 0 } wd ? Path.Combine(app.Root, wd) : app.Root;
        var executable = description["defaultExecutablePath"]!.GetValue<string>();
        var candidate = Path.Combine(workingDirectory, executable);
        var psi = new ProcessStartInfo(File.Exists(candidate) ? candidate : executable)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in description["arguments"]?.AsArray() ?? [])
        {
            psi.ArgumentList.Add(FunctionApp.Expand(argument!.GetValue<string>(), Setting));
        }

        foreach (var (k, v) in settings)
        {
            psi.Environment[k] = v;
        }

        var port = FreePort();
        psi.Environment["FUNCTIONS_CUSTOMHANDLER_PORT"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        psi.Environment["FUNCTIONS_WORKER_RUNTIME"] = "custom";
        psi.Environment["FINSERVERLESS_DEVHOST_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start the handler '{psi.FileName}'.");
        process.OutputDataReceived += (_, e) => { if (e.Data is { Length: > 0 }) log($"handler: {e.Data}"); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 }) log($"handler: {e.Data}"); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var handler = new HandlerProcess(process, port);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The handler '{psi.FileName}' exited with code {process.ExitCode} before it was ready.");
            }

            try
            {
                using var ready = await handler.Client.GetAsync("/", cancellationToken).ConfigureAwait(false);
                return handler;
            }
            catch (HttpRequestException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Stops the handler and every process it started (local training jobs, for example): SIGTERM to all of them,
    /// <paramref name="grace"/> to exit, then SIGKILL. Returns a line saying what was stopped and how.
    /// </summary>
    public async Task<string> StopAsync(TimeSpan grace)
    {
        if (_process.HasExited)
        {
            return $"the handler (pid {_process.Id}) had already exited with code {_process.ExitCode}";
        }

        if (!ProcessTree.Supported)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().ConfigureAwait(false);
            return $"killed the handler (pid {_process.Id}) and the processes it started";
        }

        // Snapshot first: once the handler is gone, what it started is no longer its child.
        var tree = ProcessTree.Snapshot(_process.Id);
        var killed = await ProcessTree.StopAsync(tree, grace).ConfigureAwait(false);
        try
        {
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return $"the handler (pid {_process.Id}) did not exit, even after SIGKILL";
        }

        var started = tree.Skip(1).ToList();
        return $"stopped the handler (pid {_process.Id}, exit code {_process.ExitCode})" +
               (started.Count == 0 ? string.Empty : $" and {started.Count} process(es) it started ({string.Join(", ", started)})") +
               (killed.Count == 0 ? $"; all exited on SIGTERM" : $"; SIGKILL after {grace.TotalSeconds:0.#} s for {string.Join(", ", killed)}");
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            await StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }

        _process.Dispose();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
