using Azure.Core;
using Azure.Identity;
using FinServerless.Storage.Blobs;
using FinServerless.Storage.Queues;

namespace FinServerless.Storage;

/// <summary>
/// Storage endpoints and credential, read the way Azure Functions reads a connection: either a connection
/// string in the setting itself, or identity-based settings <c>{name}__blobServiceUri</c>,
/// <c>__queueServiceUri</c>, <c>__accountName</c>, <c>__credential</c>, <c>__clientId</c>.
/// </summary>
public sealed class StorageConnection
{
    private const string DevAccount = "devstoreaccount1";
    private const string DevKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    private StorageConnection(Uri? blob, Uri? queue, StorageCredential credential, string description)
    {
        BlobServiceUri = blob;
        QueueServiceUri = queue;
        Credential = credential;
        Description = description;
    }

    /// <summary>Blob endpoint, or null when the connection has none.</summary>
    public Uri? BlobServiceUri { get; }

    /// <summary>Queue endpoint, or null when the connection has none.</summary>
    public Uri? QueueServiceUri { get; }

    /// <summary>How requests are authenticated.</summary>
    public StorageCredential Credential { get; }

    /// <summary>A description safe for logs (endpoints and credential kind, never keys).</summary>
    public string Description { get; }

    /// <summary>Parses a storage connection string, including <c>UseDevelopmentStorage=true</c>.</summary>
    public static StorageConnection FromConnectionString(string connectionString, string settingName = "connection string")
    {
        var parts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var segment in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = segment.IndexOf('=');
            if (eq <= 0)
            {
                throw new FormatException($"The storage {settingName} has a part without '=' ; expected Key=Value pairs separated by ';'.");
            }

            parts[segment[..eq]] = segment[(eq + 1)..];
        }

        if (parts.TryGetValue("UseDevelopmentStorage", out var dev) && bool.TryParse(dev, out var isDev) && isDev)
        {
            parts.TryAdd("AccountName", DevAccount);
            parts.TryAdd("AccountKey", DevKey);
            parts.TryAdd("BlobEndpoint", $"http://127.0.0.1:10000/{DevAccount}");
            parts.TryAdd("QueueEndpoint", $"http://127.0.0.1:10001/{DevAccount}");
        }

        parts.TryGetValue("AccountName", out var account);
        var protocol = parts.GetValueOrDefault("DefaultEndpointsProtocol", "https");
        var suffix = parts.GetValueOrDefault("EndpointSuffix", "core.windows.net");
        Uri? Endpoint(string key, string service) =>
            parts.TryGetValue(key, out var explicitUri) ? new Uri(explicitUri)
            : account is not null ? new Uri($"{protocol}://{account}.{service}.{suffix}")
            : null;

        var blob = Endpoint("BlobEndpoint", "blob");
        var queue = Endpoint("QueueEndpoint", "queue");
        if (blob is null && queue is null)
        {
            throw new FormatException($"The storage {settingName} names no account: give AccountName (and AccountKey) or BlobEndpoint/QueueEndpoint, or UseDevelopmentStorage=true.");
        }

        StorageCredential credential;
        string kind;
        if (parts.TryGetValue("SharedAccessSignature", out var sas))
        {
            credential = new StorageCredential.SharedAccessSignature(sas);
            kind = "SAS";
        }
        else if (parts.TryGetValue("AccountKey", out var key))
        {
            if (account is null)
            {
                throw new FormatException($"The storage {settingName} has AccountKey but no AccountName.");
            }

            credential = new StorageCredential.Key(new StorageSharedKeyCredential(account, key));
            kind = $"shared key of {account}";
        }
        else
        {
            credential = new StorageCredential.Anonymous();
            kind = "anonymous";
        }

        return new StorageConnection(blob, queue, credential, $"blob={blob} queue={queue} ({kind})");
    }

    /// <summary>
    /// Reads the connection named <paramref name="name"/> (for example <c>AzureWebJobsStorage</c>) from settings,
    /// as the Functions host does: the setting itself holds a connection string, or <c>{name}__*</c> settings
    /// describe an identity-based connection.
    /// </summary>
    public static StorageConnection FromSettings(string name, Func<string, string?> settings)
    {
        var direct = settings(name);
        if (!string.IsNullOrWhiteSpace(direct))
        {
            return FromConnectionString(direct, $"setting '{name}'");
        }

        string? Get(string suffix) => settings($"{name}__{suffix}") ?? settings($"{name}:{suffix}");
        var account = Get("accountName");
        var blob = Get("blobServiceUri") ?? (account is null ? null : $"https://{account}.blob.core.windows.net");
        var queue = Get("queueServiceUri") ?? (account is null ? null : $"https://{account}.queue.core.windows.net");
        if (blob is null && queue is null)
        {
            throw new InvalidOperationException(
                $"Storage connection '{name}' is not configured: set '{name}' to a connection string, or set " +
                $"'{name}__blobServiceUri' and '{name}__queueServiceUri' (or '{name}__accountName') for an identity-based connection.");
        }

        var credentialKind = Get("credential");
        var clientId = Get("clientId");
        TokenCredential token;
        string kind;
        if (string.Equals(credentialKind, "managedidentity", StringComparison.OrdinalIgnoreCase))
        {
            token = string.IsNullOrWhiteSpace(clientId)
                ? new ManagedIdentityCredential(ManagedIdentityId.SystemAssigned)
                : new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId));
            kind = string.IsNullOrWhiteSpace(clientId) ? "system-assigned managed identity" : "user-assigned managed identity";
        }
        else if (credentialKind is null)
        {
            token = new DefaultAzureCredential();
            kind = "default Azure credential";
        }
        else
        {
            throw new InvalidOperationException($"Setting '{name}__credential' is '{credentialKind}'; the only supported value is 'managedidentity' (or leave it unset for the default Azure credential).");
        }

        return new StorageConnection(
            blob is null ? null : new Uri(blob),
            queue is null ? null : new Uri(queue),
            new StorageCredential.Token(token),
            $"blob={blob} queue={queue} ({kind})");
    }

    /// <summary>A blob service client for this connection.</summary>
    public BlobServiceClient CreateBlobServiceClient(StorageClientOptions? options = null) =>
        new(BlobServiceUri ?? throw new InvalidOperationException($"Storage connection {Description} has no blob endpoint."), Credential, options);

    /// <summary>A queue service client for this connection.</summary>
    public QueueServiceClient CreateQueueServiceClient(StorageClientOptions? options = null, QueueMessageEncoding encoding = QueueMessageEncoding.Base64) =>
        new(QueueServiceUri ?? throw new InvalidOperationException($"Storage connection {Description} has no queue endpoint."), Credential, options, encoding);

    /// <inheritdoc/>
    public override string ToString() => Description;
}
