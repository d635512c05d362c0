using Azure.Core;
using Azure.Identity;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Queues;

namespace FinServerless.Connections;

/// <summary>How a connection authenticates.</summary>
public enum StorageCredentialKind
{
    /// <summary>An account key (connection strings, Azurite).</summary>
    AccountKey,

    /// <summary>A shared access signature in the connection string.</summary>
    SharedAccessSignature,

    /// <summary>An Entra ID token (managed identity or the default Azure credential).</summary>
    Token,

    /// <summary>No credential.</summary>
    Anonymous,
}

/// <summary>
/// One storage connection, read the way Azure Functions reads a connection named <c>AzureWebJobsStorage</c> (or any
/// other name): the setting itself holds a connection string (<c>UseDevelopmentStorage=true</c>, an account key, or a
/// SAS), or <c>{name}__blobServiceUri</c>, <c>__queueServiceUri</c>, <c>__accountName</c>, <c>__credential</c>
/// (<c>managedidentity</c>) and <c>__clientId</c> describe an identity-based one. It creates the official
/// <see cref="BlobServiceClient"/> and <see cref="QueueServiceClient"/> (queue messages base64, as the Functions queue
/// trigger expects), with bounded retries and a network timeout, so an unreachable endpoint fails in bounded time.
/// A record so that the retry settings can be set on what the factories return:
/// <c>StorageConnection.FromSettings(name, settings) with { MaxRetries = 2 }</c>.
/// </summary>
public sealed record StorageConnection
{
    private readonly string? _connectionString;
    private readonly TokenCredential? _token;

    private StorageConnection(string? connectionString, Uri? blob, Uri? queue, TokenCredential? token, StorageCredentialKind kind, string description)
    {
        _connectionString = connectionString;
        BlobServiceUri = blob;
        QueueServiceUri = queue;
        _token = token;
        CredentialKind = kind;
        Description = description;
    }

    /// <summary>How requests are authenticated.</summary>
    public StorageCredentialKind CredentialKind { get; }

    /// <summary>The blob endpoint of an identity-based connection (connection strings carry their own).</summary>
    public Uri? BlobServiceUri { get; }

    /// <summary>The queue endpoint of an identity-based connection.</summary>
    public Uri? QueueServiceUri { get; }

    /// <summary>The Entra ID credential of an identity-based connection (null for connection strings).</summary>
    public TokenCredential? TokenCredential => _token;

    /// <summary>A description safe for logs (endpoints and credential kind, never keys or signatures).</summary>
    public string Description { get; }

    /// <summary>Seconds one try may wait on the network before it is retried (default 100, the SDK's own).</summary>
    public TimeSpan NetworkTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>Retries of a failed request (default 5).</summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>
    /// The blob REST API version sent. Azure.Storage.Blobs 12.30.1 defaults to 2026-10-06, which Azurite 3.37.0 (the
    /// version pinned in eng/package.json, used by tests, the dev host and the benchmark) refuses; 2026-06-06 is the
    /// newest both accept. Raise it together with Azurite.
    /// </summary>
    public BlobClientOptions.ServiceVersion BlobServiceVersion { get; init; } = BlobClientOptions.ServiceVersion.V2026_06_06;

    /// <summary>The queue REST API version sent (see <see cref="BlobServiceVersion"/>).</summary>
    public QueueClientOptions.ServiceVersion QueueServiceVersion { get; init; } = QueueClientOptions.ServiceVersion.V2026_06_06;

    /// <summary>Parses a storage connection string; <paramref name="settingName"/> names it in errors.</summary>
    /// <exception cref="FormatException">The text is not a storage connection string; the message says what is wrong, never the text.</exception>
    public static StorageConnection FromConnectionString(string connectionString, string settingName = "connection string")
    {
        var parts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var segment in connectionString.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var eq = segment.IndexOf('=');
            if (eq <= 0)
            {
                throw new FormatException($"The storage {settingName} has a part without '='; expected Key=Value pairs separated by ';'.");
            }

            parts[segment[..eq]] = segment[(eq + 1)..];
        }

        var development = parts.TryGetValue("UseDevelopmentStorage", out var dev) && bool.TryParse(dev, out var isDev) && isDev;
        if (!development && !parts.ContainsKey("AccountName") && !parts.ContainsKey("BlobEndpoint") && !parts.ContainsKey("QueueEndpoint"))
        {
            throw new FormatException($"The storage {settingName} names no account: give AccountName (and AccountKey) or BlobEndpoint/QueueEndpoint, or UseDevelopmentStorage=true.");
        }

        if (parts.TryGetValue("AccountKey", out var key) && !IsBase64(key))
        {
            throw new FormatException($"The storage {settingName} has an AccountKey that is not valid base64; copy the key again from the storage account's access keys.");
        }

        var kind = parts.ContainsKey("SharedAccessSignature") ? StorageCredentialKind.SharedAccessSignature
            : parts.ContainsKey("AccountKey") || development ? StorageCredentialKind.AccountKey
            : StorageCredentialKind.Anonymous;
        var account = development ? "devstoreaccount1" : parts.GetValueOrDefault("AccountName");
        var endpoints = $"{parts.GetValueOrDefault("BlobEndpoint") ?? (account is null ? "-" : $"account {account}")}";
        return new StorageConnection(connectionString, null, null, null, kind, $"{endpoints} ({Describe(kind)}, from {settingName})");
    }

    /// <summary>
    /// Reads the connection <paramref name="name"/> from settings as the Functions host does: the setting itself holds
    /// a connection string, or <c>{name}__*</c> settings describe an identity-based connection.
    /// </summary>
    /// <exception cref="InvalidOperationException">Neither is configured, or a setting is invalid; the message names it.</exception>
    public static StorageConnection FromSettings(string name, Func<string, string?> settings)
    {
        if (settings(name) is { Length: > 0 } direct && !string.IsNullOrWhiteSpace(direct))
        {
            return FromConnectionString(direct, $"setting '{name}'");
        }

        string? Get(string suffix) => settings($"{name}__{suffix}") is { Length: > 0 } v ? v : settings($"{name}:{suffix}") is { Length: > 0 } w ? w : null;
        var account = Get("accountName");
        var blob = Get("blobServiceUri") ?? (account is null ? null : $"https://{account}.blob.core.windows.net");
        var queue = Get("queueServiceUri") ?? (account is null ? null : $"https://{account}.queue.core.windows.net");
        if (blob is null && queue is null)
        {
            throw new InvalidOperationException(
                $"Storage connection '{name}' is not configured: set '{name}' to a connection string, or set " +
                $"'{name}__blobServiceUri' and '{name}__queueServiceUri' (or '{name}__accountName') for an identity-based connection.");
        }

        var credential = Get("credential");
        var clientId = Get("clientId");
        TokenCredential token;
        string who;
        if (string.Equals(credential, "managedidentity", StringComparison.OrdinalIgnoreCase))
        {
            token = clientId is null
                ? new ManagedIdentityCredential(ManagedIdentityId.SystemAssigned)
                : new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(clientId));
            who = clientId is null ? "system-assigned managed identity" : "user-assigned managed identity";
        }
        else if (credential is null)
        {
            token = new DefaultAzureCredential();
            who = "default Azure credential";
        }
        else
        {
            throw new InvalidOperationException($"Setting '{name}__credential' is '{credential}'; the only supported value is 'managedidentity' (or leave it unset for the default Azure credential).");
        }

        return new StorageConnection(null, ParseUri(blob, $"{name}__blobServiceUri"), ParseUri(queue, $"{name}__queueServiceUri"), token, StorageCredentialKind.Token, $"blob={blob} queue={queue} ({who})");
    }

    /// <summary>A blob service client for this connection.</summary>
    public BlobServiceClient CreateBlobServiceClient()
    {
        var options = Configure(new BlobClientOptions(BlobServiceVersion));
        return _connectionString is not null
            ? new BlobServiceClient(_connectionString, options)
            : new BlobServiceClient(BlobServiceUri ?? throw new InvalidOperationException($"Storage connection {Description} has no blob endpoint."), _token, options);
    }

    /// <summary>A queue service client for this connection; messages base64 by default, as the Functions queue trigger expects.</summary>
    public QueueServiceClient CreateQueueServiceClient(QueueMessageEncoding encoding = QueueMessageEncoding.Base64)
    {
        var options = Configure(new QueueClientOptions(QueueServiceVersion) { MessageEncoding = encoding });
        return _connectionString is not null
            ? new QueueServiceClient(_connectionString, options)
            : new QueueServiceClient(QueueServiceUri ?? throw new InvalidOperationException($"Storage connection {Description} has no queue endpoint."), _token, options);
    }

    /// <inheritdoc/>
    public override string ToString() => Description;

    private T Configure<T>(T options)
        where T : Azure.Core.ClientOptions
    {
        options.Retry.Mode = RetryMode.Exponential;
        options.Retry.MaxRetries = MaxRetries;
        options.Retry.Delay = TimeSpan.FromMilliseconds(200);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(10);
        options.Retry.NetworkTimeout = NetworkTimeout;
        return options;
    }

    private static bool IsBase64(string text)
    {
        var buffer = new byte[(text.Length * 3 / 4) + 3];
        return text.Length > 0 && Convert.TryFromBase64String(text, buffer, out _);
    }

    private static Uri? ParseUri(string? text, string setting) =>
        text is null ? null
        : Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is "https" or "http" ? uri
        : throw new InvalidOperationException($"Setting '{setting}' is not an absolute http(s) URL.");

    private static string Describe(StorageCredentialKind kind) => kind switch
    {
        StorageCredentialKind.AccountKey => "account key",
        StorageCredentialKind.SharedAccessSignature => "SAS",
        StorageCredentialKind.Token => "Entra ID token",
        _ => "anonymous",
    };
}
