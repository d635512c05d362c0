using System.Net;
using System.Text.RegularExpressions;
using Azure;

namespace FinServerless.Connections;

/// <summary>
/// A storage call that failed, said so a person can act on it: the operation, the resource (never its SAS), the
/// account and the endpoint, the HTTP status and error code when the service answered, and how many tries it took
/// when it did not. The SDK's own <see cref="RequestFailedException"/> and retry <see cref="AggregateException"/> do
/// not name the account, the endpoint or the operation; wrap them with <see cref="StorageFailure.Describe"/>.
/// </summary>
public sealed class StorageOperationException : Exception
{
    internal StorageOperationException(string message, string operation, Uri resource, string account, int status, string? errorCode, Exception inner)
        : base(message, inner)
    {
        Operation = operation;
        Resource = resource;
        Account = account;
        Status = status;
        ErrorCode = errorCode;
    }

    /// <summary>What was attempted, for example "upload" or "get properties".</summary>
    public string Operation { get; }

    /// <summary>The resource, without any query (so without a SAS).</summary>
    public Uri Resource { get; }

    /// <summary>The storage account name.</summary>
    public string Account { get; }

    /// <summary>The HTTP status, or 0 when the service never answered.</summary>
    public int Status { get; }

    /// <summary>The service's error code (x-ms-error-code), "ServiceUnreachable" when it never answered.</summary>
    public string? ErrorCode { get; }
}

/// <summary>Turns what the Azure Storage SDK throws into a <see cref="StorageOperationException"/> that names what failed where.</summary>
public static partial class StorageFailure
{
    /// <summary>Describes <paramref name="exception"/>, thrown by <paramref name="operation"/> on <paramref name="resource"/> (a blob, container, queue or service URL).</summary>
    public static StorageOperationException Describe(Exception exception, string operation, Uri resource)
    {
        ArgumentNullException.ThrowIfNull(exception);
        ArgumentNullException.ThrowIfNull(resource);
        var clean = new UriBuilder(resource) { Query = string.Empty }.Uri;
        var account = AccountOf(clean);
        var endpoint = clean.GetLeftPart(UriPartial.Authority);
        var where = $"{operation} on '{clean.AbsolutePath.TrimStart('/')}' in storage account '{account}' at {endpoint}";
        if (exception is RequestFailedException { Status: > 0 } answered)
        {
            var code = answered.ErrorCode;
            return new StorageOperationException(
                $"{where} failed with HTTP {answered.Status} {code}.{Hint(answered.Status, code)}",
                operation, clean, account, answered.Status, code, exception);
        }

        var tries = exception is AggregateException aggregate ? aggregate.InnerExceptions.Count : 1;
        var last = exception is AggregateException agg && agg.InnerExceptions.Count > 0 ? agg.InnerExceptions[^1] : exception;
        var reason = Redact(Innermost(last).Message);
        return new StorageOperationException(
            $"{where} failed: the service could not be reached after {tries} {(tries == 1 ? "try" : "tries")} ({reason}). Check the endpoint, the network and the service's health.",
            operation, clean, account, 0, "ServiceUnreachable", exception);
    }

    /// <summary>Runs <paramref name="call"/>; anything but the caller's own cancellation comes out described.</summary>
    public static async Task<T> RunAsync<T>(string operation, Uri resource, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(call);
        try
        {
            return await call(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested && ex is RequestFailedException or AggregateException or IOException or HttpRequestException or OperationCanceledException)
        {
            throw Describe(ex, operation, resource);
        }
    }

    private static string AccountOf(Uri uri)
    {
        // Path-style (Azurite, IP or localhost endpoints): the account is the first path segment.
        if (uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6 || uri.IsLoopback || !uri.Host.Contains('.', StringComparison.Ordinal))
        {
            return uri.Segments.Length > 1 ? uri.Segments[1].TrimEnd('/') : uri.Host;
        }

        return uri.Host.Split('.')[0];
    }

    private static Exception Innermost(Exception exception)
    {
        var current = exception;
        while (current.InnerException is { } inner && current is not RequestFailedException { Status: > 0 })
        {
            current = inner;
        }

        return current;
    }

    private static string Redact(string text) => Signature().Replace(text.Split('\n')[0].Trim(), "sig=REDACTED");

    [GeneratedRegex("sig=[^&\\s]+", RegexOptions.IgnoreCase)]
    private static partial Regex Signature();

    private static string Hint(int status, string? code) => (status, code) switch
    {
        (403, "AuthenticationFailed") => " Check the account key or SAS, and that the machine clock is right.",
        (403, _) => " The identity or SAS lacks the permission for this operation; grant the storage data role or issue a SAS with it.",
        (404, "ContainerNotFound") => " Create the container first or check its name.",
        (404, "BlobNotFound") => " Check the blob name; it may have been deleted or never committed.",
        (404, "QueueNotFound") => " Create the queue first or check its name.",
        (409, "BlobAlreadyExists") => " The blob exists and the write was create-only; read it instead, or write under a new name.",
        (412, _) => " Another writer changed the blob since it was read; re-read it and retry the change.",
        (int s, _) when s >= 500 => $" The service stayed unavailable ({(HttpStatusCode)s}) through the retries.",
        _ => string.Empty,
    };
}
