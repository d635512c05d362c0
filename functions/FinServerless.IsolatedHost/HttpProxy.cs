using Microsoft.AspNetCore.Http;

namespace FinServerless.IsolatedHost;

/// <summary>
/// Forwards an HTTP trigger's request to the worker's own ASP.NET Core server (its HttpUri capability) with the
/// <c>x-ms-invocation-id</c> header the worker pairs it with the InvocationRequest by, and copies the worker's
/// response back to the caller.
/// </summary>
internal sealed class HttpProxy : IDisposable
{
    /// <summary>Where the front door leaves the matched route values for the bridge (trigger metadata).</summary>
    public const string RouteValuesKey = "FinServerless.IsolatedHost.RouteValues";

    private static readonly HashSet<string> HopByHop = new(StringComparer.OrdinalIgnoreCase)
    {
        "Host", "Connection", "Transfer-Encoding", "Keep-Alive", "Upgrade", "Proxy-Connection", "TE", "Trailer",
    };

    private readonly HttpMessageInvoker _client = new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false, UseProxy = false, ConnectTimeout = TimeSpan.FromSeconds(10) });

    /// <summary>Sends the caller's request to the worker; the task completes with the worker's response headers.</summary>
    public async Task<HttpResponseMessage> ForwardAsync(HttpContext context, string invocationId, Uri? workerHttpUri)
    {
        if (workerHttpUri is null)
        {
            throw new InvalidOperationException("The worker has no HTTP server (no HttpUri capability): an app with HTTP triggers calls ConfigureFunctionsWebApplication().");
        }

        var request = context.Request;
        var message = new HttpRequestMessage(new HttpMethod(request.Method), new Uri(workerHttpUri, request.Path.Value + request.QueryString.Value));
        if (request.ContentLength > 0 || request.Headers.ContainsKey("Transfer-Encoding"))
        {
            if (request.Body.CanSeek)
            {
                request.Body.Position = 0;
            }

            // Forwarded with its length: a chunked request streamed on as chunks never reached the worker's pipeline
            // (the worker timed out waiting for it). The front door caps the body, so it fits in memory.
            using var body = new MemoryStream();
            await request.Body.CopyToAsync(body, context.RequestAborted).ConfigureAwait(false);
            message.Content = new ByteArrayContent(body.ToArray());
        }

        foreach (var header in request.Headers)
        {
            if (header.Key.Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            {
                continue; // set from the body forwarded
            }

            if (!HopByHop.Contains(header.Key) && !message.Headers.TryAddWithoutValidation(header.Key, (IEnumerable<string?>)header.Value))
            {
                message.Content?.Headers.TryAddWithoutValidation(header.Key, (IEnumerable<string?>)header.Value);
            }
        }

        // The caller's Host: URLs the function builds from its request (a durable start's status URLs) point at the front door.
        message.Headers.Host = request.Host.Value;
        message.Headers.TryAddWithoutValidation("x-ms-invocation-id", invocationId);
        return await _client.SendAsync(message, context.RequestAborted).ConfigureAwait(false);
    }

    /// <summary>Whether the worker's response has no body (the shape it gives when the function threw).</summary>
    public static bool IsEmpty(HttpResponseMessage response) => response.Content.Headers.ContentLength == 0;

    /// <summary>Copies the worker's status, headers and body to the caller.</summary>
    public static async Task CopyAsync(HttpContext context, HttpResponseMessage response)
    {
        using (response)
        {
            context.Response.StatusCode = (int)response.StatusCode;
            foreach (var header in response.Headers.Concat(response.Content.Headers))
            {
                if (!HopByHop.Contains(header.Key))
                {
                    context.Response.Headers[header.Key] = header.Value.ToArray();
                }
            }

            await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _client.Dispose();
}
