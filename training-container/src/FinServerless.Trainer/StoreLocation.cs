using FinServerless.Datasets.Ingest;
using FinServerless.Connections;

namespace FinServerless.Trainer;

/// <summary>
/// Where a URI points: a store (a storage account or a local folder) and a path inside it. Accepted forms:
/// <c>blob://{container}/{path}</c> (the account of the configured connection), <c>https://…/{container}/{path}</c>
/// (a blob URL of that account, Azurite's included), and <c>file:///…</c> or a plain path whose store root is the
/// folder above the <paramref name="container"/> segment (for example <c>/data/curated/…</c> → root <c>/data</c>).
/// </summary>
public sealed record StoreLocation(IRunOutput Store, string Path)
{
    /// <summary>The setting naming the storage connection (default AzureWebJobsStorage).</summary>
    public const string ConnectionSetting = "FINSERVERLESS_STORAGE_CONNECTION";

    /// <summary>Resolves <paramref name="uri"/>; <paramref name="container"/> is the container or folder the path must lie under.</summary>
    public static StoreLocation Parse(string uri, string container, string option, Func<string, string?> settings)
    {
        if (uri.StartsWith("blob://", StringComparison.Ordinal))
        {
            return new StoreLocation(new BlobRunOutput(Connection(settings).CreateBlobServiceClient()), uri["blob://".Length..].TrimStart('/'));
        }

        if (uri.StartsWith("https://", StringComparison.OrdinalIgnoreCase) || uri.StartsWith("http://", StringComparison.OrdinalIgnoreCase))
        {
            var connection = Connection(settings);
            var service = connection.CreateBlobServiceClient();
            var endpoint = service.Uri.AbsoluteUri.TrimEnd('/') + "/";
            if (!uri.StartsWith(endpoint, StringComparison.OrdinalIgnoreCase))
            {
                throw new Training.TrainingInputException($"{option} '{uri}' is not in the configured storage account ({endpoint}); use a blob URL of that account or blob://container/path.");
            }

            return new StoreLocation(new BlobRunOutput(service), Uri.UnescapeDataString(uri[endpoint.Length..]));
        }

        var local = uri.StartsWith("file://", StringComparison.Ordinal) ? new Uri(uri).LocalPath : System.IO.Path.GetFullPath(uri);
        var marker = $"/{container}/";
        var at = (local + "/").LastIndexOf(marker, StringComparison.Ordinal);
        if (at < 0)
        {
            throw new Training.TrainingInputException($"{option} '{uri}' must lie under a '{container}' folder (for example /data/{container}/...), so its store root is known.");
        }

        return new StoreLocation(new FolderRunOutput(at == 0 ? "/" : local[..at]), local[(at + 1)..].TrimEnd('/'));
    }

    private static StorageConnection Connection(Func<string, string?> settings)
    {
        var name = settings(ConnectionSetting) ?? "AzureWebJobsStorage";
        return StorageConnection.FromSettings(name, settings);
    }
}
