using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;

namespace FinServerless.Functions.Tests;

/// <summary>The dev host as its own process (`finserverless-devhost start`), so a test can SIGKILL or SIGTERM it and start another.</summary>
internal sealed class DevHostProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly List<string> _output = [];

    private DevHostProcess(Process process, HttpClient http)
    {
        _process = process;
        Http = http;
    }

    /// <summary>A client for the host's front door (/api, /admin, /runtime/webhooks/durabletask).</summary>
    public HttpClient Http { get; }

    /// <summary>The host's process id.</summary>
    public int ProcessId => _process.Id;

    /// <summary>What the host has printed so far (stdout and stderr), for assertion messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return string.Join('\n', _output);
            }
        }
    }

    /// <summary>Writes a local.settings.json with <paramref name="settings"/> into <paramref name="folder"/>; returns its path.</summary>
    public static Task<string> WriteSettingsAsync(string folder, IReadOnlyDictionary<string, string> settings) =>
        Task.FromResult(FinServerless.DevHost.LocalSettings.Write(Path.Combine(folder, "local.settings.json"), settings));

    /// <summary>Starts the dev host on <paramref name="port"/> and waits until /admin/host/status answers.</summary>
    public static async Task<DevHostProcess> StartAsync(string appRoot, string settingsPath, int port, params string[] extraArguments)
    {
        var process = Process.Start(new ProcessStartInfo("dotnet", [AppLayout.DevHostDll, "start", "--app", appRoot, "--settings", settingsPath, "--port", port.ToString(CultureInfo.InvariantCulture), .. extraArguments])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        var host = new DevHostProcess(process, new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30) });
        process.OutputDataReceived += (_, e) => host.Collect(e.Data);
        process.ErrorDataReceived += (_, e) => host.Collect(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await Poll.UntilAsync(async () =>
        {
            try
            {
                return (await host.Http.GetAsync("admin/host/status")).IsSuccessStatusCode ? [] : null;
            }
            catch (HttpRequestException)
            {
                return process.HasExited ? throw new InvalidOperationException($"the dev host exited with {process.ExitCode} before it was ready") : null;
            }
        }, TimeSpan.FromMinutes(1), "the dev host");
        return host;
    }

    /// <summary>SIGTERM to the host process alone, as docker stop, systemd or kill send it.</summary>
    public void Terminate() => Signal(_process.Id, 15);

    /// <summary>Sends <paramref name="signal"/> (15: SIGTERM) to one process.</summary>
    public static void Signal(int pid, int signal)
    {
        if (SendSignal(pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill -{signal} {pid} failed with errno {Marshal.GetLastPInvokeError()}");
        }
    }

    /// <summary>Waits for the host to exit; its exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        await _process.WaitForExitAsync().WaitAsync(timeout);
        return _process.ExitCode;
    }

    /// <summary>The processes descended from <paramref name="pid"/> now (children, grandchildren…), with their command names, from /proc.</summary>
    public static List<(int Pid, string Name)> Descendants(int pid)
    {
        var parents = new Dictionary<int, List<(int, string)>>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var child) || Stat(child) is not { } stat)
            {
                continue;
            }

            if (!parents.TryGetValue(stat.Parent, out var list))
            {
                parents[stat.Parent] = list = [];
            }

            list.Add((child, stat.Name));
        }

        var found = new List<(int Pid, string Name)>();
        var queue = new Queue<int>([pid]);
        while (queue.TryDequeue(out var next))
        {
            foreach (var (child, name) in parents.GetValueOrDefault(next) ?? [])
            {
                found.Add((child, name));
                queue.Enqueue(child);
            }
        }

        return found;
    }

    /// <summary>Whether a process with this id runs (exists and is not a zombie).</summary>
    public static bool IsAlive(int pid) => Stat(pid) is { State: not ("Z" or "X") };

    private static (string Name, string State, int Parent)? Stat(int pid)
    {
        try
        {
            var text = File.ReadAllText($"/proc/{pid}/stat");
            var close = text.LastIndexOf(')');
            var fields = text[(close + 2)..].Split(' ');
            return (text[(text.IndexOf('(') + 1)..close], fields[0], int.Parse(fields[1], CultureInfo.InvariantCulture));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int SendSignal(int pid, int signal);

    private void Collect(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.Add(line);
        }
    }

    /// <summary>SIGKILL to the host process alone (its handler notices and exits by itself).</summary>
    public async Task KillHostAsync()
    {
        _process.Kill(entireProcessTree: false);
        await _process.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        Http.Dispose();
    }

    /// <summary>A free TCP port on the loopback interface.</summary>
    public static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        return ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
    }
}

/// <summary>Polling with a deadline whose timeout message says what was awaited.</summary>
internal static class Poll
{
    public static async Task<JsonObject> UntilAsync(Func<Task<JsonObject?>> probe, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await probe() is { } found)
            {
                return found;
            }

            await Task.Delay(300);
        }

        throw new TimeoutException($"waited {timeout} for {what}");
    }
}
