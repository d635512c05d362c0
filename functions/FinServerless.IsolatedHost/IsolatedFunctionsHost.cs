using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs;
using FinServerless.IsolatedHost.Rpc;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Azure.WebJobs;
using Microsoft.Azure.WebJobs.Extensions.DurableTask;
using Microsoft.Azure.WebJobs.Extensions.Timers;
using Microsoft.Azure.WebJobs.Host;
using Microsoft.Azure.WebJobs.Host.Config;
using Microsoft.Azure.WebJobs.Host.Executors;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using FinServerless.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace FinServerless.IsolatedHost;

/// <summary>What the host is started with.</summary>
public sealed record IsolatedHostOptions
{
    /// <summary>The app's build output.</summary>
    public required string AppDirectory { get; init; }

    /// <summary>local.settings.json (default: beside the app, else in the current folder).</summary>
    public string? SettingsFile { get; init; }

    /// <summary>The front door's port on 127.0.0.1 (0: a free one).</summary>
    public int Port { get; init; } = 7071;

    /// <summary>How long invocations in flight get to finish when the host stops.</summary>
    public TimeSpan StopGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The largest request body the front door accepts (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT; 100 MB as in Azure).</summary>
    public long MaxRequestBodyBytes { get; init; } = 100L * 1024 * 1024;

    /// <summary>Play Event Grid's part for the <c>inbox-*</c> containers (BlobCreated events onto <c>ingest-events</c>).</summary>
    public bool InboxEvents { get; init; } = true;

    /// <summary>Where the host's, the extensions' and the worker's logs go (default: one line each on the console).</summary>
    public Action<ILoggingBuilder> Logging { get; init; } = b => b.AddSimpleConsole(o =>
    {
        o.SingleLine = true;
        o.TimestampFormat = "HH:mm:ss.fff ";
    });
}

/// <summary>
/// The local Functions host for a .NET isolated app: a WebJobs host with the real extensions (Storage queues and blobs,
/// Durable Task on its Azure Storage provider, HTTP, timers), the app's worker process bridged over FunctionRpc, and
/// the front door. The extensions are referenced by this host at build time, at the versions the worker extensions
/// declare; the app's <c>extensions.json</c> is checked against them at start.
/// </summary>
public sealed class IsolatedFunctionsHost : IAsyncDisposable
{
    /// <summary>The WebJobs extensions this host carries, by the names the worker SDK writes into extensions.json.</summary>
    public static readonly IReadOnlySet<string> CarriedExtensions = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
    {
        "AzureStorageBlobs", "AzureStorageQueues", "DurableTask", "Startup",
    };

    private readonly IsolatedHostOptions _options;
    private readonly ILoggerFactory _logs;
    private readonly ILogger _log;
    private WebApplication? _rpc;
    private WebApplication? _front;
    private WorkerSupervisor? _worker;
    private IHost? _jobs;
    private HttpProxy? _proxy;
    private FrontDoor? _door;
    private InvocationBridge? _bridge;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _inbox;

    private IsolatedFunctionsHost(IsolatedHostOptions options, HostConfiguration config, ILoggerFactory logs)
    {
        _options = options;
        Configuration = config;
        _logs = logs;
        _log = logs.CreateLogger("Host");
    }

    /// <summary>What was read from host.json and local.settings.json.</summary>
    public HostConfiguration Configuration { get; }

    /// <summary>The front door's base address (http://127.0.0.1:port/).</summary>
    public Uri BaseAddress { get; private set; } = new("http://127.0.0.1/");

    /// <summary>The worker's current process id (null while it restarts).</summary>
    public int? WorkerProcessId => _worker?.ProcessId;

    /// <summary>The function names the worker indexed.</summary>
    public IReadOnlyList<string> FunctionNames => _worker?.Functions.Select(f => f.Name).ToList() ?? [];

    /// <summary>Reads the app's configuration, starts the worker and the WebJobs host, and opens the front door.</summary>
    public static async Task<IsolatedFunctionsHost> StartAsync(IsolatedHostOptions options, CancellationToken cancellationToken = default)
    {
        var config = HostConfiguration.Load(options.AppDirectory, options.SettingsFile);
        CheckExtensions(config.AppDirectory);
        var logs = LoggerFactory.Create(b => ConfigureLogging(b, options, config));
        var host = new IsolatedFunctionsHost(options, config, logs);
        try
        {
            await host.StartCoreAsync(cancellationToken).ConfigureAwait(false);
            return host;
        }
        catch
        {
            await host.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        // A connection string, or identity-based AzureWebJobsStorage__* settings, as the Functions host reads them; the
        // host's own clients (inbox events, timer schedule status) use the same connection as the extensions.
        var storage = Configuration.Connection();
        StorageConnection connection;
        try
        {
            connection = storage is not null
                ? StorageConnection.FromConnectionString(storage, "setting 'AzureWebJobsStorage'")
                : StorageConnection.FromSettings("AzureWebJobsStorage", name => Configuration.Values.GetValueOrDefault(name));
        }
        catch (Exception ex) when (ex is InvalidOperationException or FormatException)
        {
            throw new HostConfigurationException($"{ex.Message} (local.settings.json Values; UseDevelopmentStorage=true for Azurite on its default ports).");
        }


        // 1. FunctionRpc: the worker dials this loopback gRPC endpoint (h2c).
        var endpoint = new RpcEndpoint(_logs.CreateLogger("Host.Rpc"));
        var rpc = WebApplication.CreateSlimBuilder();
        rpc.Logging.ClearProviders();
        rpc.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, o => o.Protocols = HttpProtocols.Http2));
        rpc.Services.AddGrpc(o =>
        {
            o.MaxReceiveMessageSize = int.MaxValue;
            o.MaxSendMessageSize = int.MaxValue;
        });
        rpc.Services.AddSingleton(endpoint);
        _rpc = rpc.Build();
        _rpc.MapGrpcService<FunctionRpcService>();
        await _rpc.StartAsync(cancellationToken).ConfigureAwait(false);
        var rpcUri = new Uri(Address(_rpc));

        // 2. The front door, answering 503 until the functions are up (the Durable extension needs its URL to start).
        _door = new FrontDoor(Configuration, _logs.CreateLogger("Host.FrontDoor"));
        var front = WebApplication.CreateSlimBuilder();
        front.Logging.ClearProviders();
        front.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Loopback, _options.Port);
            k.Limits.MaxRequestBodySize = _options.MaxRequestBodyBytes;
        });
        _front = front.Build();
        _front.Run(_door.HandleAsync);
        try
        {
            await _front.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            throw new HostConfigurationException($"Port {_options.Port} is not free ({ex.Message}); pass another with --port.");
        }

        BaseAddress = new Uri(Address(_front));

        // 3. The worker: started, initialized, indexed, loaded.
        _worker = new WorkerSupervisor(Configuration, endpoint, rpcUri, _logs);
        await _worker.StartAsync(cancellationToken).ConfigureAwait(false);

        // 4. The WebJobs host over the emitted functions, with the real extensions.
        var descriptors = _worker.Functions.Select(f => new FunctionDescriptor(f)).ToList();
        var (type, functions) = FunctionEmitter.Emit(descriptors);
        _proxy = new HttpProxy();
        _bridge = new InvocationBridge(functions, _worker, _proxy, _logs.CreateLogger("Host.Function"));
        FunctionEmitter.Bind(type, _bridge);
        var jobs = BuildJobHost(type, storage, connection);
        try
        {
            await jobs.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (BindingFailure(ex) is { } setting)
        {
            jobs.Dispose();
            throw new HostConfigurationException($"{Path.Combine(Configuration.AppDirectory, "host.json")}: {setting}");
        }
        catch
        {
            jobs.Dispose();
            throw;
        }

        _jobs = jobs;
        if (_options.InboxEvents)
        {
            var events = new InboxEvents(connection.CreateBlobServiceClient(), connection.CreateQueueServiceClient(Azure.Storage.Queues.QueueMessageEncoding.Base64),
                line => _log.LogInformation("{Line}", line));
            _inbox = Task.Run(() => events.RunAsync(_stopping.Token), CancellationToken.None);
        }

        _door.Open(functions, _jobs.Services, Status);
        _log.LogInformation("Host is running on {Address} with {Count} functions; durable task hub '{Hub}'.", BaseAddress, functions.Count, Configuration.HubName);
        foreach (var function in functions.Where(f => f.Descriptor.IsHttp))
        {
            _log.LogInformation("  {Function}: [{Methods}] {Address}{Route}", function.Descriptor.Name,
                function.Descriptor.Methods.Length == 0 ? "ALL" : string.Join(",", function.Descriptor.Methods), BaseAddress, $"{Configuration.RoutePrefix}/{function.Descriptor.Route}".TrimStart('/'));
        }
    }

    private IHost BuildJobHost(Type functions, string? storage, StorageConnection connection)
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in Configuration.Values)
        {
            settings[name.Replace("__", ":", StringComparison.Ordinal)] = value;
        }

        foreach (var (name, value) in Configuration.ExtensionSettings)
        {
            settings[name] = value;
        }

        if (storage is not null)
        {
            settings["AzureWebJobsStorage"] = storage; // else the AzureWebJobsStorage:* (identity) settings above serve
        }

        // The Durable extension reads the worker runtime to run orchestrations out of process (the isolated worker).
        settings["FUNCTIONS_WORKER_RUNTIME"] = "dotnet-isolated";
        Environment.SetEnvironmentVariable("FUNCTIONS_WORKER_RUNTIME", "dotnet-isolated");

        // The Durable extension takes a set CONTAINER_NAME for Linux Consumption and then writes every DurableTask event
        // to stdout as MS_DURABLE_FUNCTION_EVENTS_LOGS lines (container runtimes set it too). Not Azure here: clear it.
        if (settings.GetValueOrDefault("CONTAINER_NAME") is null)
        {
            Environment.SetEnvironmentVariable("CONTAINER_NAME", null);
            settings["CONTAINER_NAME"] = string.Empty;
        }
        var webhooks = new Uri(BaseAddress, "runtime/webhooks/durabletask");
        return new HostBuilder()
            .ConfigureAppConfiguration(c => c.AddInMemoryCollection(settings))
            .ConfigureWebJobs(b =>
            {
                b.AddAzureStorageCoreServices();
                b.AddAzureStorageBlobs();
                b.AddAzureStorageQueues();
                b.AddHttp();
                b.AddTimers();
                b.AddDurableTask();
            })
            .ConfigureServices(s =>
            {
                s.AddSingleton<ITypeLocator>(new FixedTypeLocator(functions));
#pragma warning disable CS0618 // IWebHookProvider is how the Durable extension learns the host's URL (the Functions host registers one too).
                s.AddSingleton<IWebHookProvider>(new FrontDoorWebHooks(webhooks));
#pragma warning restore CS0618
                s.RemoveAll<ScheduleMonitor>();
                s.AddSingleton<ScheduleMonitor>(sp => new BlobScheduleMonitor(connection.CreateBlobServiceClient(), sp.GetRequiredService<IHostIdProvider>()));
                s.Configure<JobHostFunctionTimeoutOptions>(o =>
                {
                    o.Timeout = Configuration.FunctionTimeout;
                    o.ThrowOnTimeout = false;
                    o.TimeoutWhileDebugging = true;
                });
            })
            .ConfigureLogging(l =>
            {
                l.ClearProviders();
                ConfigureLogging(l, _options, Configuration);
            })
            .Build();
    }

    private object Status() => new
    {
        state = _door?.State,
        version = WorkerSupervisor.HostVersion,
        workerProcessId = _worker?.ProcessId,
        workerRestarts = _worker?.Restarts ?? 0,
        succeeded = Interlocked.Read(ref _bridge!.Succeeded),
        failed = Interlocked.Read(ref _bridge.Failed),
        functions = FunctionNames,
    };

    /// <summary>Stops taking work, gives invocations in flight <see cref="IsolatedHostOptions.StopGrace"/>, then stops the worker.</summary>
    public async Task StopAsync()
    {
        _door?.Close();
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }

        if (_inbox is not null)
        {
            await _inbox.ConfigureAwait(false);
            _inbox = null;
        }

        if (_jobs is not null)
        {
            // Listeners stop taking work; invocations in flight (triggered or HTTP) get the grace period, then are cancelled.
            var clock = Stopwatch.StartNew();
            using var grace = new CancellationTokenSource(_options.StopGrace);
            var stopped = _jobs.StopAsync(grace.Token);
            if (_bridge is not null && !await _bridge.DrainAsync(_options.StopGrace).ConfigureAwait(false))
            {
                _log.LogWarning("grace period of {Seconds:0.#} s over; invocations still running were cancelled ({Count})", _options.StopGrace.TotalSeconds, _bridge.InFlight);
                _bridge.CancelInFlight();
                await _bridge.DrainAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(false);
            }
            else if (_bridge is not null)
            {
                _log.LogInformation("nothing left in flight after {Seconds:0.0} s", clock.Elapsed.TotalSeconds);
            }

            try
            {
                await stopped.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The job host's own wait ended with the grace period.
            }
        }

        if (_worker is not null)
        {
            await _worker.StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }

        foreach (var app in new[] { _front, _rpc })
        {
            if (app is not null)
            {
                await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _jobs?.Dispose();
        _proxy?.Dispose();
        _logs.Dispose();
        _stopping.Dispose();
        foreach (var app in new[] { _front, _rpc })
        {
            if (app is not null)
            {
                await app.DisposeAsync().ConfigureAwait(false);
            }
        }

        if (_worker is not null)
        {
            await _worker.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>Fails when the app declares an extension this host does not carry, naming it.</summary>
    private static void CheckExtensions(string appDirectory)
    {
        var path = Path.Combine(appDirectory, "extensions.json");
        if (!File.Exists(path))
        {
            return;
        }

        var declared = (JsonNode.Parse(File.ReadAllText(path))?["extensions"] as JsonArray ?? [])
            .Select(e => e?["name"]?.GetValue<string>() ?? string.Empty).Where(n => n.Length > 0).ToList();
        var missing = declared.Where(n => !CarriedExtensions.Contains(n)).ToList();
        if (missing.Count > 0)
        {
            throw new HostConfigurationException($"{path}: the app uses extension(s) {string.Join(", ", missing)}, which this host does not carry (it carries {string.Join(", ", CarriedExtensions.Order())}, plus HTTP and timers).");
        }
    }

    /// <summary>An extension option host.json set to a value its type cannot take, as "extensions.x.y: reason".</summary>
    private static string? BindingFailure(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            var at = e.Message.IndexOf("AzureWebJobs:extensions:", StringComparison.OrdinalIgnoreCase);
            if (at >= 0)
            {
                var key = new string(e.Message[(at + "AzureWebJobs:".Length)..].TakeWhile(c => c is not '\'' and not ' ' and not '\"').ToArray());
                return $"{key.Replace(':', '.')}: {e.Message}";
            }
        }

        return null;
    }

    private static string Address(WebApplication app) =>
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().Replace("[::1]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/') + "/";

    private static void ConfigureLogging(ILoggingBuilder logging, IsolatedHostOptions options, HostConfiguration config)
    {
        options.Logging(logging);
        logging.SetMinimumLevel(Level(config.LogLevels.GetValueOrDefault("default"), LogLevel.Information));
        foreach (var (category, level) in config.LogLevels.Where(p => !p.Key.Equals("default", StringComparison.OrdinalIgnoreCase)))
        {
            logging.AddFilter(category, Level(level, LogLevel.Information));
        }

        // The host logs one line per invocation itself; the SDK's Executing/Executed pair would double it.
        logging.AddFilter("Function", LogLevel.Warning);
        foreach (var category in new[] { "Host.Triggers", "Host.Results", "Host.Aggregator", "Host.Startup", "Host.General", "Microsoft.Hosting.Lifetime", "Microsoft.AspNetCore", "Microsoft.Azure.WebJobs.Hosting.OptionsLoggingService" })
        {
            logging.AddFilter(category, LogLevel.Warning);
        }

        // The storage SDK logs every expected 404/409 (a queue not created yet) as a warning.
        logging.AddFilter("Azure.Core", LogLevel.Error);
    }

    private static LogLevel Level(string? text, LogLevel fallback) => Enum.TryParse<LogLevel>(text, ignoreCase: true, out var level) ? level : fallback;

    private sealed class FixedTypeLocator(params Type[] types) : ITypeLocator
    {
        public IReadOnlyList<Type> GetTypes() => types;
    }

#pragma warning disable CS0618 // see BuildJobHost
    private sealed class FrontDoorWebHooks(Uri url) : IWebHookProvider
#pragma warning restore CS0618
    {
        public Uri GetUrl(IExtensionConfigProvider extension) => url;
    }
}

