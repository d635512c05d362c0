using System.Diagnostics;
using System.Text.Json;
using FinServerless.Functions;
using FinServerless.Functions.Handler;

// The custom handler: the Functions host (or the dev host) POSTs each invocation to /{FunctionName} on
// FUNCTIONS_CUSTOMHANDLER_PORT and reads Outputs/Logs/ReturnValue back. GET / answers the readiness probe.
var port = Environment.GetEnvironmentVariable("FUNCTIONS_CUSTOMHANDLER_PORT") is { Length: > 0 } p ? int.Parse(p, System.Globalization.CultureInfo.InvariantCulture) : 7071;
var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.WebHost.ConfigureKestrel(k =>
{
    k.ListenLocalhost(port);
    k.Limits.MaxRequestBodySize = null; // the host may send large envelopes
});

var app = builder.Build();
var services = new AppServices(new AppSettings(Environment.GetEnvironmentVariable));
var functions = FunctionTable.Create(services);
app.MapGet("/", () => Results.Ok(new { status = "ready", functions = functions.Keys.Order() }));
app.MapPost("/{function}", async (string function, HttpContext http) =>
{
    if (!functions.TryGetValue(function, out var run))
    {
        return Results.NotFound(new { error = $"No function '{function}' in this app." });
    }

    InvocationRequest request;
    try
    {
        request = await JsonSerializer.DeserializeAsync<InvocationRequest>(http.Request.Body, Envelope.Options, http.RequestAborted) ?? new InvocationRequest();
    }
    catch (JsonException ex)
    {
        return Results.BadRequest(new { error = $"The invocation envelope for '{function}' is not valid JSON: {ex.Message}" });
    }

    var clock = Stopwatch.StartNew();
    try
    {
        var response = await run(request, http.RequestAborted);
        response.Logs.Add($"{function} completed in {clock.ElapsedMilliseconds} ms");
        return Results.Bytes(Envelope.Serialize(response), "application/json");
    }
    catch (Exception ex) when (ex is not OperationCanceledException || !http.RequestAborted.IsCancellationRequested)
    {
        // A failed invocation: the host sees a non-2xx answer (and retries queue messages); the message names the
        // function and the cause, never row contents or secrets.
        Console.Error.WriteLine($"{function} failed after {clock.ElapsedMilliseconds} ms: {ex.GetType().Name}: {ex.Message}");
        return Results.Json(new { error = ex.Message, type = ex.GetType().Name }, statusCode: 500);
    }
});

// Under the dev host: exit when the host process is gone (a killed host must not leave handlers behind).
if (Environment.GetEnvironmentVariable("FINSERVERLESS_DEVHOST_PID") is { Length: > 0 } parent && int.TryParse(parent, out var parentPid))
{
    _ = Task.Run(async () =>
    {
        while (Directory.Exists($"/proc/{parentPid}"))
        {
            await Task.Delay(1000);
        }

        Environment.Exit(3);
    });
}

await app.RunAsync();
services.Dispose();
