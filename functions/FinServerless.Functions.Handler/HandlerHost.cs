using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace FinServerless.Functions.Handler;

/// <summary>
/// The custom handler's HTTP server: the Functions host (or the dev host) POSTs each invocation to /{FunctionName}
/// on FUNCTIONS_CUSTOMHANDLER_PORT and reads Outputs/Logs/ReturnValue back; GET / answers the readiness probe.
/// </summary>
public static class HandlerHost
{
    /// <summary>Serves <paramref name="functions"/> (function name → invocation) until the process is stopped.</summary>
    public static async Task RunAsync(string[] args, IReadOnlyDictionary<string, Func<InvocationRequest, CancellationToken, Task<InvocationResponse>>> functions)
    {
        var port = Environment.GetEnvironmentVariable("FUNCTIONS_CUSTOMHANDLER_PORT") is { Length: > 0 } p ? int.Parse(p, CultureInfo.InvariantCulture) : 7071;
        var builder = WebApplication.CreateSlimBuilder(args);
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.ListenLocalhost(port);
            k.Limits.MaxRequestBodySize = null; // the host may send large envelopes
        });

        var app = builder.Build();
        app.MapGet("/", () => Results.Ok(new { status = "ready", functions = functions.Keys.Order() }));
        app.MapPost("/{function}", (string function, HttpContext http) => InvokeAsync(functions, function, http));
        WatchDevHost();
        await app.RunAsync().ConfigureAwait(false);
    }

    private static async Task<IResult> InvokeAsync(IReadOnlyDictionary<string, Func<InvocationRequest, CancellationToken, Task<InvocationResponse>>> functions, string function, HttpContext http)
    {
        if (!functions.TryGetValue(function, out var run))
        {
            return Results.NotFound(new { error = $"No function '{function}' in this app." });
        }

        InvocationRequest request;
        try
        {
            request = await JsonSerializer.DeserializeAsync<InvocationRequest>(http.Request.Body, Envelope.Options, http.RequestAborted).ConfigureAwait(false) ?? new InvocationRequest();
        }
        catch (JsonException ex)
        {
            return Results.BadRequest(new { error = $"The invocation envelope for '{function}' is not valid JSON: {ex.Message}" });
        }

        var clock = Stopwatch.StartNew();
        try
        {
            var response = await run(request, http.RequestAborted).ConfigureAwait(false);
            response.Logs.Add($"{function} completed in {clock.ElapsedMilliseconds} ms");
            return Results.Bytes(Envelope.Serialize(response), "application/json");
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !http.RequestAborted.IsCancellationRequested)
        {
            // A failed invocation: the host sees a non-2xx answer (and retries queue messages); the message names the
            // function and the cause, never row contents or secrets.
            await Console.Error.WriteLineAsync($"{function} failed after {clock.ElapsedMilliseconds} ms: {ex.GetType().Name}: {ex.Message}").ConfigureAwait(false);
            return Results.Json(new { error = ex.Message, type = ex.GetType().Name }, statusCode: 500);
        }
    }

    /// <summary>Under the dev host: exit when the host process is gone (a killed host must not leave handlers behind).</summary>
    private static void WatchDevHost()
    {
        if (Environment.GetEnvironmentVariable("FINSERVERLESS_DEVHOST_PID") is not { Length: > 0 } parent || !int.TryParse(parent, out var parentPid))
        {
            return;
        }

        _ = Task.Run(async () =>
        {
            while (Directory.Exists($"/proc/{parentPid}"))
            {
                await Task.Delay(1000).ConfigureAwait(false);
            }

            Environment.Exit(3);
        });
    }
}
