using Azure;
using Azure.Core;
using Azure.Core.Pipeline;

namespace FinServerless.Storage;

/// <summary>
/// One Azure.Core pipeline per service endpoint: retries, per-try authentication, error mapping.
/// Thread-safe and shared by every client created from the same service client.
/// </summary>
internal sealed class StoragePipeline
{
    private StoragePipeline(HttpPipeline pipeline, Uri endpoint, StorageClientOptions options, StorageSharedKeyCredential? sharedKey, string? sas)
    {
        Pipeline = pipeline;
        Endpoint = endpoint;
        Options = options;
        SharedKey = sharedKey;
        Sas = sas;
    }

    public HttpPipeline Pipeline { get; }

    public Uri Endpoint { get; }

    public StorageClientOptions Options { get; }

    /// <summary>The shared key, when the client signs with one (needed to generate service SAS).</summary>
    public StorageSharedKeyCredential? SharedKey { get; }

    /// <summary>The SAS query, when the client authenticates with one.</summary>
    public string? Sas { get; }

    public static StoragePipeline Create(Uri endpoint, StorageCredential credential, StorageClientOptions? options)
    {
        options ??= new StorageClientOptions();
        var perRetry = new List<HttpPipelinePolicy>();
        switch (credential)
        {
            case StorageCredential.Key key:
                perRetry.Add(new SharedKeyAuthenticationPolicy(key.Credential));
                break;
            case StorageCredential.Token token:
                perRetry.Add(new BearerTokenAuthenticationPolicy(token.Credential, "https://storage.azure.com/.default"));
                break;
            case StorageCredential.SharedAccessSignature:
            case StorageCredential.Anonymous:
                break;
        }

        var pipeline = HttpPipelineBuilder.Build(options, [new ServiceVersionPolicy(options.ServiceVersion)], [.. perRetry], new StorageResponseClassifier());
        var endpointWithoutSlash = new Uri(endpoint.ToString().TrimEnd('/'));
        return new StoragePipeline(
            pipeline,
            endpointWithoutSlash,
            options,
            (credential as StorageCredential.Key)?.Credential,
            (credential as StorageCredential.SharedAccessSignature)?.Query.TrimStart('?'));
    }

    /// <summary>Creates a request for a path under the endpoint (segments already escaped).</summary>
    public HttpMessage CreateMessage(RequestMethod method, string escapedPath, params (string Name, string? Value)[] query)
    {
        var message = Pipeline.CreateMessage();
        var request = message.Request;
        request.Method = method;
        var uri = Endpoint.AbsoluteUri + (escapedPath.Length == 0 ? string.Empty : "/" + escapedPath);
        request.Uri.Reset(new Uri(uri));
        foreach (var (name, value) in query)
        {
            if (value is not null)
            {
                request.Uri.AppendQuery(name, value, escapeValue: true);
            }
        }

        if (!string.IsNullOrEmpty(Sas))
        {
            foreach (var pair in Sas.Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var eq = pair.IndexOf('=');
                request.Uri.AppendQuery(pair[..eq], pair[(eq + 1)..], escapeValue: false);
            }
        }

        return message;
    }

    /// <summary>Sends and throws a <see cref="RequestFailedException"/> naming the operation when the status is not expected.</summary>
    public async ValueTask<Response> SendAsync(HttpMessage message, string operation, string resource, CancellationToken cancellationToken, params int[] expected)
    {
        try
        {
            await Pipeline.SendAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is AggregateException or IOException or HttpRequestException or OperationCanceledException or RequestFailedException { Status: 0 })
        {
            // The request never got an answer, even after the pipeline's retries: say what and where.
            var reason = ex is AggregateException agg ? agg.InnerExceptions[^1].Message : ex.Message;
            throw new RequestFailedException(
                0,
                $"{operation} on '{resource}' failed: the storage service at {Endpoint.Authority} could not be reached after {Options.Retry.MaxRetries + 1} tries ({reason}). Check the endpoint, the network, and the service's health.",
                "ServiceUnreachable",
                ex);
        }

        var response = message.Response;
        if (Array.IndexOf(expected, response.Status) < 0)
        {
            throw await StorageErrors.CreateAsync(response, operation, resource, cancellationToken).ConfigureAwait(false);
        }

        return response;
    }

    private sealed class ServiceVersionPolicy(string version) : HttpPipelineSynchronousPolicy
    {
        public override void OnSendingRequest(HttpMessage message) => message.Request.Headers.SetValue("x-ms-version", version);
    }

    /// <summary>Retries what the official storage SDK retries; 4xx other than 408/429 are final.</summary>
    private sealed class StorageResponseClassifier : ResponseClassifier
    {
        public override bool IsRetriableResponse(HttpMessage message) =>
            message.Response.Status is 408 or 429 or 500 or 502 or 503 or 504;
    }
}
