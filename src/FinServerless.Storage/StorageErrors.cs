using System.Xml.Linq;
using Azure;

namespace FinServerless.Storage;

/// <summary>Turns a failed storage response into one <see cref="RequestFailedException"/> a person can act on.</summary>
internal static class StorageErrors
{
    public static async ValueTask<RequestFailedException> CreateAsync(Response response, string operation, string resource, CancellationToken cancellationToken)
    {
        response.Headers.TryGetValue("x-ms-error-code", out var code);
        string? detail = null;
        try
        {
            if (response.ContentStream is { } body)
            {
                using var reader = new StreamReader(body);
                var text = await reader.ReadToEndAsync(cancellationToken).ConfigureAwait(false);
                if (text.Length > 0 && text.TrimStart().StartsWith('<'))
                {
                    var xml = XDocument.Parse(text);
                    code ??= xml.Root?.Element("Code")?.Value;
                    detail = xml.Root?.Element("Message")?.Value?.Split('\n')[0].Trim();
                }
            }
        }
        catch (System.Xml.XmlException)
        {
        }
        catch (IOException)
        {
        }

        var message = $"{operation} on '{resource}' failed with HTTP {response.Status} {code ?? response.ReasonPhrase}" +
                      (string.IsNullOrWhiteSpace(detail) ? "." : $": {detail}") + Hint(response.Status, code);
        return new RequestFailedException(response.Status, message, code, null);
    }

    private static string Hint(int status, string? code) => (status, code) switch
    {
        (403, "AuthenticationFailed") => " Check the account key or SAS, and that the machine clock is right.",
        (403, "AuthorizationPermissionMismatch") or (403, "AuthorizationFailure") => " The identity or SAS lacks the permission for this operation; grant the storage data role or issue a SAS with it.",
        (404, "ContainerNotFound") => " Create the container first (CreateIfNotExistsAsync) or check its name.",
        (404, "BlobNotFound") => " Check the blob name; it may have been deleted or never committed.",
        (404, "QueueNotFound") => " Create the queue first or check its name.",
        (409, "BlobAlreadyExists") => " The blob exists and the write was create-only; read it instead, or write under a new name.",
        (409, "LeaseAlreadyPresent") => " Another worker holds the lease; wait for it to finish or for the lease to expire.",
        (412, "LeaseIdMissing") or (412, "LeaseIdMismatchWithBlobOperation") => " The blob is leased; pass the lease id.",
        (412, _) => " Another writer changed the blob since it was read; re-read it and retry the change.",
        _ => string.Empty,
    };
}
