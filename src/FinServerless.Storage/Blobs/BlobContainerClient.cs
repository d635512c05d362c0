using System.Globalization;
using System.Runtime.CompilerServices;
using System.Xml.Linq;
using Azure;
using Azure.Core;
using FinServerless.Storage.Sas;

namespace FinServerless.Storage.Blobs;

/// <summary>A blob container: create, delete, list, and clients for its blobs.</summary>
public sealed class BlobContainerClient
{
    internal BlobContainerClient(BlobServiceClient service, string name)
    {
        ContainerNames.Validate(name);
        Service = service;
        Name = name;
    }

    /// <summary>The container name.</summary>
    public string Name { get; }

    /// <summary>The service this container belongs to.</summary>
    public BlobServiceClient Service { get; }

    /// <summary>The container's URI.</summary>
    public Uri Uri => new($"{Service.Uri.AbsoluteUri}/{Name}");

    internal StoragePipeline Pipeline => Service.Pipeline;

    /// <summary>
    /// A client for the container a SAS URI names (for example the one a partner received for its inbox);
    /// every request carries the SAS and nothing else.
    /// </summary>
    public static BlobContainerClient FromSasUri(Uri containerSasUri, StorageClientOptions? options = null)
    {
        var path = containerSasUri.AbsolutePath.TrimEnd('/');
        var slash = path.LastIndexOf('/');
        if (slash < 0 || string.IsNullOrEmpty(containerSasUri.Query))
        {
            throw new ArgumentException("A container SAS URI looks like https://{account}.blob.core.windows.net/{container}?sv=...&sig=...", nameof(containerSasUri));
        }

        var service = new UriBuilder(containerSasUri) { Path = path[..slash], Query = string.Empty }.Uri;
        var sas = new StorageCredential.SharedAccessSignature(containerSasUri.Query.TrimStart('?'));
        return new BlobServiceClient(service, sas, options).GetBlobContainerClient(path[(slash + 1)..]);
    }

    /// <summary>A SAS URI for this container, signed with the client's account key.</summary>
    public Uri GenerateSasUri(BlobSasBuilder builder)
    {
        if (builder.ContainerName != Name)
        {
            throw new ArgumentException($"The SAS builder is for container '{builder.ContainerName}', not '{Name}'.", nameof(builder));
        }

        var key = Pipeline.SharedKey ?? throw new InvalidOperationException(
            $"Container '{Name}': generating a SAS with the account key needs a client created with a shared key. " +
            "With Entra ID, get a user delegation key (BlobServiceClient.GetUserDelegationKeyAsync) and call BlobSasBuilder.ToSasQuery(key, account).");
        return new Uri($"{Uri}?{builder.ToSasQuery(key)}");
    }

    /// <summary>A client for one blob in this container (no request is made).</summary>
    public BlobClient GetBlobClient(string blobName) => new(this, blobName);

    /// <summary>Creates the container unless it exists; returns whether it was created.</summary>
    public async Task<bool> CreateIfNotExistsAsync(CancellationToken cancellationToken = default)
    {
        using var message = Pipeline.CreateMessage(RequestMethod.Put, Name, ("restype", "container"));
        try
        {
            await Pipeline.SendAsync(message, "Create container", Name, cancellationToken, 201).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException ex) when (ex.Status == 409 && ex.ErrorCode == "ContainerAlreadyExists")
        {
            return false;
        }
    }

    /// <summary>Whether the container exists.</summary>
    public async Task<bool> ExistsAsync(CancellationToken cancellationToken = default)
    {
        using var message = Pipeline.CreateMessage(RequestMethod.Head, Name, ("restype", "container"));
        var response = await Pipeline.SendAsync(message, "Get container properties", Name, cancellationToken, 200, 404).ConfigureAwait(false);
        return response.Status == 200;
    }

    /// <summary>Deletes the container and all its blobs, if it exists; returns whether it existed.</summary>
    public async Task<bool> DeleteIfExistsAsync(CancellationToken cancellationToken = default)
    {
        using var message = Pipeline.CreateMessage(RequestMethod.Delete, Name, ("restype", "container"));
        var response = await Pipeline.SendAsync(message, "Delete container", Name, cancellationToken, 202, 404).ConfigureAwait(false);
        return response.Status == 202;
    }

    /// <summary>Lists blobs whose names start with <paramref name="prefix"/>, following pages as needed.</summary>
    public async IAsyncEnumerable<BlobItem> GetBlobsAsync(
        string? prefix = null,
        bool includeMetadata = false,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        string? marker = null;
        do
        {
            var page = await GetBlobPageAsync(prefix, marker, null, includeMetadata, cancellationToken).ConfigureAwait(false);
            foreach (var item in page.Items)
            {
                yield return item;
            }

            marker = page.ContinuationToken;
        }
        while (marker is not null);
    }

    /// <summary>Lists one page of blobs (at most <paramref name="pageSize"/>, service maximum 5,000).</summary>
    public async Task<BlobPage> GetBlobPageAsync(
        string? prefix, string? continuationToken, int? pageSize = null, bool includeMetadata = false, CancellationToken cancellationToken = default)
    {
        using var message = Pipeline.CreateMessage(
            RequestMethod.Get,
            Name,
            ("restype", "container"),
            ("comp", "list"),
            ("prefix", string.IsNullOrEmpty(prefix) ? null : prefix),
            ("marker", continuationToken),
            ("maxresults", pageSize?.ToString(CultureInfo.InvariantCulture)),
            ("include", includeMetadata ? "metadata" : null));
        var response = await Pipeline.SendAsync(message, "List blobs", $"{Name}/{prefix}", cancellationToken, 200).ConfigureAwait(false);
        var xml = await XDocument.LoadAsync(response.ContentStream!, LoadOptions.None, cancellationToken).ConfigureAwait(false);
        var root = xml.Root!;
        var items = new List<BlobItem>();
        foreach (var blob in root.Element("Blobs")?.Elements("Blob") ?? [])
        {
            var props = blob.Element("Properties");
            var metadata = blob.Element("Metadata")?.Elements().ToDictionary(e => e.Name.LocalName, e => e.Value, StringComparer.OrdinalIgnoreCase)
                           ?? new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            items.Add(new BlobItem(
                blob.Element("Name")!.Value,
                long.Parse(props?.Element("Content-Length")?.Value ?? "0", CultureInfo.InvariantCulture),
                NullIfEmpty(props?.Element("Content-Type")?.Value),
                new ETag(props?.Element("Etag")?.Value ?? string.Empty),
                DateTimeOffset.Parse(props?.Element("Last-Modified")?.Value ?? DateTimeOffset.MinValue.ToString("r", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture),
                metadata));
        }

        var next = root.Element("NextMarker")?.Value;
        return new BlobPage(items, string.IsNullOrEmpty(next) ? null : next);
    }

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
