using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Template;
using Microsoft.Azure.WebJobs;
using Microsoft.Azure.WebJobs.Extensions.DurableTask;
using Microsoft.Azure.WebJobs.Extensions.Timers;
using Microsoft.Azure.WebJobs.Host.Config;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace FinServerless.IsolatedHost;

/// <summary>
/// The host's public HTTP surface, as the Functions host serves it: <c>/{routePrefix}/*</c> (HTTP triggers, proxied to
/// the worker), <c>/admin/functions/{name}</c> (run a non-HTTP function now), <c>/admin/host/status</c>, and the
/// Durable extension's own <c>/runtime/webhooks/durabletask/*</c>. Function keys: when the settings name a function or
/// master key, functions with authLevel function need one of them (<c>code</c> query or <c>x-functions-key</c>
/// header) and the admin API the master key; without keys the host is open, as Core Tools is locally.
/// </summary>
internal sealed class FrontDoor(HostConfiguration config, ILogger log)
{
    /// <summary>The setting holding the key functions with authLevel function accept.</summary>
    public const string FunctionKeySetting = "FINSERVERLESS_DEVHOST_FUNCTION_KEY";

    /// <summary>The setting holding the master key (admin API, and every function).</summary>
    public const string MasterKeySetting = "FINSERVERLESS_DEVHOST_MASTER_KEY";

    private readonly string? _functionKey = config.Values.GetValueOrDefault(FunctionKeySetting) is { Length: > 0 } k ? k : null;
    private readonly string? _masterKey = config.Values.GetValueOrDefault(MasterKeySetting) is { Length: > 0 } m ? m : null;
    private IReadOnlyList<(EmittedFunction Function, TemplateMatcher Matcher)> _routes = [];
    private IReadOnlyDictionary<string, EmittedFunction> _byName = new Dictionary<string, EmittedFunction>();
    private IServiceProvider? _services;
    private Func<object>? _status;
    private volatile string _state = "Starting";

    /// <summary>Starting, Running or Stopping; only Running serves functions.</summary>
    public string State => _state;

    /// <summary>Called once the WebJobs host runs: the functions to route to and the host's services.</summary>
    public void Open(IReadOnlyList<EmittedFunction> functions, IServiceProvider services, Func<object> status)
    {
        _routes = functions.Where(f => f.Descriptor.IsHttp)
            .Select(f => (f, new TemplateMatcher(TemplateParser.Parse($"{config.RoutePrefix}/{f.Descriptor.Route}".TrimStart('/')), new RouteValueDictionary())))
            .ToList();
        _byName = functions.ToDictionary(f => f.Descriptor.Name, StringComparer.OrdinalIgnoreCase);
        _services = services;
        _status = status;
        _state = "Running";
        if (_functionKey is null && _masterKey is null)
        {
            log.LogInformation("No {FunctionKey} or {MasterKey} is set: HTTP functions and the admin API are open, as under Core Tools.", FunctionKeySetting, MasterKeySetting);
        }
    }

    /// <summary>No new work from now on (503); the durable API stays up for the orchestrations still running.</summary>
    public void Close() => _state = "Stopping";

    /// <summary>Serves one request.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        if (path.Equals("/admin/host/status", StringComparison.OrdinalIgnoreCase))
        {
            await WriteJsonAsync(context, _state == "Running" ? 200 : 503, _status?.Invoke() ?? new { state = _state }).ConfigureAwait(false);
            return;
        }

        var durable = path.StartsWith("/runtime/webhooks/durabletask/", StringComparison.OrdinalIgnoreCase);
        if (_state != "Running" && !(durable && _state == "Stopping" && _services is not null))
        {
            context.Response.Headers.RetryAfter = "5";
            await WriteJsonAsync(context, 503, new { error = _state == "Starting" ? "The host is starting." : "The host is stopping and takes no new work." }).ConfigureAwait(false);
            return;
        }

        if (durable)
        {
            await DurableWebhookAsync(context).ConfigureAwait(false);
        }
        else if (path.StartsWith("/admin/functions/", StringComparison.OrdinalIgnoreCase))
        {
            await AdminInvokeAsync(context, Uri.UnescapeDataString(path["/admin/functions/".Length..])).ConfigureAwait(false);
        }
        else
        {
            await HttpTriggerAsync(context, path).ConfigureAwait(false);
        }
    }

    private async Task HttpTriggerAsync(HttpContext context, string path)
    {
        var methodAllowed = false;
        foreach (var (function, matcher) in _routes)
        {
            var values = new RouteValueDictionary();
            if (!matcher.TryMatch(path, values))
            {
                continue;
            }

            if (function.Descriptor.Methods.Length > 0 && !function.Descriptor.Methods.Contains(context.Request.Method, StringComparer.OrdinalIgnoreCase))
            {
                methodAllowed = true;
                continue;
            }

            if (!Authorized(context, function.Descriptor.AuthLevel))
            {
                await WriteJsonAsync(context, 401, new { error = $"Function {function.Descriptor.Name} needs a function key (the 'code' query parameter or the x-functions-key header)." }).ConfigureAwait(false);
                return;
            }

            var limit = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize;
            if (context.Request.ContentLength > limit)
            {
                await WriteJsonAsync(context, 413, new { error = $"The request body is {context.Request.ContentLength:N0} bytes; this host accepts at most {limit:N0} (FUNCTIONS_REQUEST_BODY_SIZE_LIMIT)." }).ConfigureAwait(false);
                return;
            }

            context.Items[HttpProxy.RouteValuesKey] = values.ToDictionary(v => v.Key, v => v.Value, StringComparer.OrdinalIgnoreCase);
            // The HTTP trigger binding may read the body for binding data: keep it readable for the proxy.
            context.Request.EnableBuffering();
            try
            {
                await Host.CallAsync(function.Descriptor.Name, new Dictionary<string, object?> { [function.TriggerParameter.Name] = context.Request }, context.RequestAborted).ConfigureAwait(false);
            }
            catch (Exception) when (context.RequestAborted.IsCancellationRequested)
            {
                // The caller went away; the invocation was cancelled in the worker.
            }
            catch (Exception ex) when (TooLarge(ex))
            {
                // A body without a declared length that ran past the limit while it was read.
                if (!context.Response.HasStarted)
                {
                    context.Response.Clear();
                    await WriteJsonAsync(context, 413, new { error = $"The request body is larger than this host accepts ({limit:N0} bytes, FUNCTIONS_REQUEST_BODY_SIZE_LIMIT)." }).ConfigureAwait(false);
                }
            }
            catch (Exception ex)
            {
                if (!context.Response.HasStarted)
                {
                    context.Response.Clear();
                    await WriteJsonAsync(context, ex.GetBaseException() is WorkerUnavailableException ? 503 : 500,
                        new { error = $"Function {function.Descriptor.Name} failed; see the host log." }).ConfigureAwait(false);
                }
            }

            return;
        }

        // As the Functions host: a route whose function does not take this method is not found.
        await WriteJsonAsync(context, 404, new { error = methodAllowed ? "No function serves this method on this route." : "No function serves this route." }).ConfigureAwait(false);
    }

    /// <summary>POST /admin/functions/{name} {"input": …}: runs a non-HTTP function now with the input as its trigger value (202).</summary>
    private async Task AdminInvokeAsync(HttpContext context, string name)
    {
        if (!Authorized(context, "admin"))
        {
            await WriteJsonAsync(context, 401, new { error = "The admin API needs the master key (x-functions-key header)." }).ConfigureAwait(false);
            return;
        }

        if (!HttpMethods.IsPost(context.Request.Method))
        {
            await WriteJsonAsync(context, 405, new { error = "POST {\"input\": …} to run a function." }).ConfigureAwait(false);
            return;
        }

        if (!_byName.TryGetValue(name, out var function) || function.Descriptor.IsHttp)
        {
            await WriteJsonAsync(context, 404, new { error = "No non-HTTP function has that name." }).ConfigureAwait(false);
            return;
        }

        string? input = null;
        try
        {
            using var body = await JsonDocument.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted).ConfigureAwait(false);
            if (body.RootElement.ValueKind == JsonValueKind.Object && body.RootElement.TryGetProperty("input", out var value))
            {
                input = value.ValueKind == JsonValueKind.String ? value.GetString() : value.GetRawText();
            }
        }
        catch (JsonException)
        {
            await WriteJsonAsync(context, 400, new { error = "The body must be JSON: {\"input\": …}." }).ConfigureAwait(false);
            return;
        }

        // The trigger's value for a run now: a timer that is not past due, a queue message that was never queued, the input text otherwise.
        object trigger = function.Descriptor.Trigger.Type.ToLowerInvariant() switch
        {
            "timertrigger" => new TimerInfo(new ConstantSchedule(TimeSpan.FromDays(1)), null!, false),
            "queuetrigger" => Azure.Storage.Queues.Models.QueuesModelFactory.QueueMessage(
                Guid.NewGuid().ToString(), Guid.NewGuid().ToString(), BinaryData.FromString(input ?? string.Empty), 1, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddDays(7)),
            _ => input ?? string.Empty,
        };
        var arguments = new Dictionary<string, object?> { [function.TriggerParameter.Name] = trigger };

        _ = Task.Run(async () =>
        {
            try
            {
                await Host.CallAsync(function.Descriptor.Name, arguments).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                log.LogWarning("admin run of {Function} failed: {Reason}", function.Descriptor.Name, ex.GetBaseException().GetType().Name);
            }
        });
        context.Response.StatusCode = 202;
    }

    /// <summary>The Durable extension serves its HTTP API itself, as in the Functions host (its HttpRequestMessage converter).</summary>
    private async Task DurableWebhookAsync(HttpContext context)
    {
        var extension = _services!.GetServices<IExtensionConfigProvider>().OfType<DurableTaskExtension>().Single();
        var converter = (IAsyncConverter<HttpRequestMessage, HttpResponseMessage>)extension;
        var request = context.Request;
        using var message = new HttpRequestMessage(new HttpMethod(request.Method), $"{request.Scheme}://{request.Host}{request.PathBase}{request.Path}{request.QueryString}");
        if (request.ContentLength > 0 || request.Headers.ContainsKey("Transfer-Encoding"))
        {
            message.Content = new StreamContent(request.Body);
        }

        foreach (var header in request.Headers)
        {
            if (!message.Headers.TryAddWithoutValidation(header.Key, (IEnumerable<string?>)header.Value))
            {
                message.Content?.Headers.TryAddWithoutValidation(header.Key, (IEnumerable<string?>)header.Value);
            }
        }

        using var response = await converter.ConvertAsync(message, context.RequestAborted).ConfigureAwait(false);
        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var header in response.Headers)
        {
            context.Response.Headers[header.Key] = header.Value.ToArray();
        }

        if (response.Content is not null)
        {
            foreach (var header in response.Content.Headers.Where(h => !h.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase)))
            {
                context.Response.Headers[header.Key] = header.Value.ToArray();
            }

            await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        }
    }

    private IJobHost Host => _services!.GetRequiredService<IJobHost>();

    private bool Authorized(HttpContext context, string level)
    {
        if (_functionKey is null && _masterKey is null)
        {
            return true;
        }

        if (string.Equals(level, "anonymous", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        var given = context.Request.Headers["x-functions-key"].FirstOrDefault() ?? context.Request.Query["code"].FirstOrDefault();
        if (given is null)
        {
            return false;
        }

        return Same(given, _masterKey) || (!string.Equals(level, "admin", StringComparison.OrdinalIgnoreCase) && Same(given, _functionKey));
    }

    private static bool Same(string given, string? key) =>
        key is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(given), Encoding.UTF8.GetBytes(key));

    private static async Task WriteJsonAsync(HttpContext context, int status, object body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsync(JsonSerializer.Serialize(body), context.RequestAborted).ConfigureAwait(false);
    }

    private static bool TooLarge(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is Microsoft.AspNetCore.Http.BadHttpRequestException { StatusCode: 413 })
            {
                return true;
            }
        }

        return false;
    }
}
