using System.Runtime.InteropServices;
using System.Globalization;
using FinServerless.Azurite;
using FinServerless.IsolatedHost;

namespace FinServerless.DevHost;

/// <summary>The dev host's verbs.</summary>
internal static class CommandLine
{
    private const string Usage = """
        finserverless-devhost <verb> [options]

          demo [--sample PATH] [--trainer xgboost|mlp|scorecard] [--app DIR]
                                 end-to-end demo on a real sample file: Azurite, the function app under this dev host,
                                 ingest → training over HTTP → champion → NightlyRescore (outputs in .demo/output)
          start [--app DIR] [--settings FILE] [--port N] [--grace SECONDS]
                                 run the function app (its build output, default the Release build) like the
                                 Functions host: the WebJobs SDK with the real extensions and the app's isolated
                                 worker, on the storage named by AzureWebJobsStorage in local.settings.json
                                 (default: the repository's). Ctrl+C or SIGTERM stops it: no new work, invocations
                                 in flight get --grace seconds (default 10) to finish, then the worker and what it
                                 started are stopped; exit code 0
          azurite [--data DIR]   start Azurite on free ports and print its connection string until Ctrl+C
        """;

    private static volatile string? _signal;

    public static async Task<int> RunAsync(string[] args)
    {
        using var cancel = new CancellationTokenSource();
        void Stop(string signal)
        {
            if (_signal is not null)
            {
                return;
            }

            _signal = signal;
            cancel.Cancel();
        }

        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            Stop("SIGINT");
        };

        // SIGTERM (docker stop, systemd, kill, a CI runner) stops as Ctrl+C does, instead of ending the process on the spot.
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            Stop("SIGTERM");
        });

        try
        {
            return args.FirstOrDefault() switch
            {
                "demo" => await RunDemoAsync(args, cancel.Token),
                "start" => await RunHostAsync(args, cancel.Token),
                "azurite" => await RunAzuriteAsync(Option(args, "--data"), cancel.Token),
                null or "-h" or "--help" or "help" => PrintUsage(0),
                var other => PrintUsage(2, $"Unknown verb '{other}'."),
            };
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // An interrupted demo: 128 + the signal number, as a shell reports it (130 for SIGINT, 143 for SIGTERM).
            Console.Error.WriteLine($"Cancelled ({_signal}).");
            return _signal == "SIGTERM" ? 143 : 130;
        }
        catch (Exception ex) when (ex is InvalidOperationException or HostConfigurationException or WorkerStartException or FinServerless.Native.NativeLibraryNotFoundException or IOException or Azure.RequestFailedException or TimeoutException or HttpRequestException)
        {
            Console.Error.WriteLine($"error: {ex.Message}");
            return 1;
        }
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }

    private static int PrintUsage(int code, string? problem = null)
    {
        if (problem is not null)
        {
            Console.Error.WriteLine(problem);
        }

        (code == 0 ? Console.Out : Console.Error).WriteLine(Usage);
        return code;
    }

    private static async Task<int> RunDemoAsync(string[] args, CancellationToken cancellationToken)
    {
        await Demo.RunAsync(Option(args, "--sample"), Option(args, "--app"), Path.Combine(FinServerless.Native.RepositoryLayout.Root, ".demo"), Option(args, "--trainer") ?? "xgboost", Console.Out, cancellationToken);
        return 0;
    }

    private static async Task<int> RunHostAsync(string[] args, CancellationToken cancellationToken)
    {
        var root = FinServerless.Native.RepositoryLayout.Root;
        var settingsPath = Option(args, "--settings") ?? Path.Combine(root, "local.settings.json");
        if (!File.Exists(settingsPath))
        {
            throw new InvalidOperationException($"No settings file {settingsPath}: copy local.settings.sample.json to local.settings.json and set AzureWebJobsStorage (`finserverless-devhost azurite` starts one), or pass --settings FILE.");
        }

        var app = Option(args, "--app") ?? Path.Combine(root, "functions", "FinServerless.Functions", "bin", "Release", "net10.0");
        var port = Option(args, "--port") is { } portText
            ? int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out var p) && p is > 0 and < 65536 ? p : throw new InvalidOperationException($"--port must be a TCP port from 1 to 65535 (got '{portText}').")
            : 7071;
        var grace = Option(args, "--grace") is { } graceText
            ? double.TryParse(graceText, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds is >= 0 and <= 3600 ? TimeSpan.FromSeconds(seconds) : throw new InvalidOperationException($"--grace must be a number of seconds from 0 to 3600 (got '{graceText}').")
            : TimeSpan.FromSeconds(10);
        var options = LocalSettings.HostOptions(app, settingsPath) with { Port = port, StopGrace = grace };

        IsolatedFunctionsHost host;
        try
        {
            host = await IsolatedFunctionsHost.StartAsync(options, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            Console.WriteLine($"FinServerless dev host: stopped ({_signal}) before it was ready; everything it had started is stopped.");
            return 0;
        }

        await using (host)
        {
            Console.WriteLine($"FinServerless dev host: {host.BaseAddress} (settings {settingsPath}; functions: {string.Join(", ", host.FunctionNames)}). Ctrl+C or SIGTERM stops.");
            try
            {
                await Task.Delay(Timeout.Infinite, cancellationToken);
            }
            catch (OperationCanceledException)
            {
            }

            // A requested stop is this command's normal end: exit code 0 once everything it started is stopped.
            Console.WriteLine($"FinServerless dev host: stopping ({_signal}): no new work; invocations in flight get {grace.TotalSeconds:0.#} s.");
            await host.StopAsync();
            Console.WriteLine("FinServerless dev host: stopped.");
        }

        return 0;
    }

    private static async Task<int> RunAzuriteAsync(string? data, CancellationToken cancellationToken)
    {
        await using var azurite = await AzuriteServer.StartAsync(new AzuriteOptions { Location = data }, cancellationToken);
        Console.WriteLine(azurite);
        Console.WriteLine($"AzureWebJobsStorage={azurite.ConnectionString}");
        Console.WriteLine("Press Ctrl+C to stop.");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }

        return 0;
    }
}
