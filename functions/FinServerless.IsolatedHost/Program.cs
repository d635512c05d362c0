using System.Globalization;
using System.Runtime.InteropServices;
using FinServerless.IsolatedHost;

const string Usage = """
    finserverless-isolated-host start --app DIR [--settings FILE] [--port N] [--grace SECONDS]

      Runs a built .NET isolated function app (DIR: its build output, with worker.config.json and host.json) the way
      the Azure Functions host runs it: the WebJobs SDK with the real Storage, Durable Task, HTTP and timer extensions,
      the app's worker process over FunctionRpc, and the front door on 127.0.0.1:N (default 7071). Settings come from
      local.settings.json (beside the app or in the current folder, or --settings). Ctrl+C or SIGTERM stops it: no new
      work, invocations in flight get --grace seconds (default 10), then the worker is stopped; exit code 0.
    """;

if (args.FirstOrDefault() is not "start")
{
    Console.Error.WriteLine(Usage);
    return args.FirstOrDefault() is null or "-h" or "--help" or "help" ? 0 : 2;
}

string? Option(string name)
{
    var i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

int Number(string name, int fallback) =>
    Option(name) is not { } text ? fallback
    : int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value
    : throw new HostConfigurationException($"{name} must be a whole number, not '{text}'.");

using var stop = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    stop.Cancel();
};
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    stop.Cancel();
});

try
{
    var options = new IsolatedHostOptions
    {
        AppDirectory = Option("--app") ?? throw new HostConfigurationException("--app DIR is required (the app's build output)."),
        SettingsFile = Option("--settings"),
        Port = Number("--port", 7071),
        StopGrace = TimeSpan.FromSeconds(Number("--grace", 10)),
        MaxRequestBodyBytes = long.TryParse(Environment.GetEnvironmentVariable("FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"), NumberStyles.None, CultureInfo.InvariantCulture, out var limit) ? limit : 100L * 1024 * 1024,
    };
    await using var host = await IsolatedFunctionsHost.StartAsync(options, stop.Token);
    try
    {
        await Task.Delay(Timeout.Infinite, stop.Token);
    }
    catch (OperationCanceledException)
    {
        Console.Error.WriteLine("Stopping: no new work; invocations in flight get the grace period.");
    }

    await host.StopAsync();
    return 0;
}
catch (Exception ex) when (ex is HostConfigurationException or WorkerStartException)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    return 1;
}
catch (OperationCanceledException) when (stop.IsCancellationRequested)
{
    return 130;
}
