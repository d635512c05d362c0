using System.Globalization;
using System.Text;
using Azure;
using Azure.Core;

namespace FinServerless.Storage.Blobs;

/// <summary>One block blob: upload, download, properties, metadata, delete, leases.</summary>
public sealed class BlobClient
{
    internal BlobClient(BlobContainerClient container, string name)
    {
        if (string.IsNullOrEmpty(name) || name.Length > 1024)
        {
            throw new ArgumentException($"Blob name '{name}' must be 1 to 1,024 characters.", nameof(name));
        }

        Container = container;
        Name = name;
        EscapedPath = $"{container.Name}/{AccountNames.EscapePath(name)}";
    }

    /// <summary>The blob name (may contain '/' as virtual folders).</summary>
    public string Name { get; }

    /// <summary>The container holding this blob.</summary>
    public BlobContainerClient Container { get; }

    /// <summary>The blob's URI (without any credential).</summary>
    public Uri Uri => new($"{Container.Service.Uri.AbsoluteUri}/{EscapedPath}");

    /// <summary>Container and blob name, as used in messages and logs.</summary>
    public string DisplayName => $"{Container.Name}/{Name}";

    internal string EscapedPath { get; }

    internal StoragePipeline Pipeline => Container.Pipeline;

    /// <summary>A lease client for this blob.</summary>
    public BlobLeaseClient GetLeaseClient(string? leaseId = null) => new(this, leaseId);

    /// <summary>Uploads small content in one request.</summary>
    public Task<BlobContentInfo> UploadAsync(BinaryData content, BlobUploadOptions? options = null, CancellationToken cancellationToken = default) =>
        UploadAsync(content.ToStream(), options, cancellationToken);

    /// <summary>
    /// Uploads a stream of any length: one Put Blob when it fits under the threshold, otherwise staged blocks
    /// (bounded parallelism, bounded memory) committed by a block list that carries the conditions.
    /// </summary>
    public Task<BlobContentInfo> UploadAsync(Stream content, BlobUploadOptions? options = null, CancellationToken cancellationToken = default) =>
        BlobUploader.UploadAsync(this, content, options ?? new BlobUploadOptions(), cancellationToken);

    /// <summary>
    /// Opens the blob for reading as a stream. A transient failure mid-body resumes with a ranged read from
    /// the last byte received, pinned to the ETag seen first so a concurrent overwrite is detected, not mixed in.
    /// </summary>
    public Task<BlobDownloadStream> OpenReadAsync(BlobRequestConditions? conditions = null, CancellationToken cancellationToken = default) =>
        BlobDownloadStream.OpenAsync(this, conditions, cancellationToken);

    /// <summary>Downloads the whole blob into memory (for small blobs such as manifests).</summary>
    public async Task<BinaryData> DownloadContentAsync(CancellationToken cancellationToken = default)
    {
        await using var stream = await OpenReadAsync(null, cancellationToken).ConfigureAwait(false);
        using var buffer = new MemoryStream(stream.Length > 0 && stream.Length < int.MaxValue ? (int)stream.Length : 0);
        await stream.CopyToAsync(buffer, cancellationToken).ConfigureAwait(false);
        return new BinaryData(buffer.GetBuffer().AsMemory(0, (int)buffer.Length));
    }

    /// <summary>Downloads the blob into <paramref name="destination"/>.</summary>
    public async Task<BlobProperties> DownloadToAsync(Stream destination, CancellationToken cancellationToken = default)
    {
        await using var stream = await OpenReadAsync(null, cancellationToken).ConfigureAwait(false);
        await stream.CopyToAsync(destination, 1024 * 1024, cancellationToken).ConfigureAwait(false);
        return stream.Properties;
    }

    /// <summary>Reads system properties and metadata.</summary>
    public async Task<BlobProperties> GetPropertiesAsync(BlobRequestConditions? conditions = null, CancellationToken cancellationToken = default)
    {
        using var message = Pipeline.CreateMessage(RequestMethod.Head, EscapedPath);
        ApplyConditions(message.Request, conditions);
        var response = await Pipeline.SendAsync(message, "Get blob properties", DisplayName, cancellationToken, 200).ConfigureAwait(false);
        return ReadProperties(response);
    }

    /// <summary>Whether the blob exists.</summary>
    public async Task<bool> ExistsAsync(CancellationToken cancellationToken = default)
    {
        using var message = Pipeline.CreateMessage(RequestMethod.Head, EscapedPath);
        var response = await Pipeline.SendAsync(message, "Get blob properties", DisplayName, cancellationToken, 200, 404).ConfigureAwait(false);
        return response.Status == 200;
    }

    /// <summary>Replaces the blob's metadata.</summary>
    public async Task<BlobContentInfo> SetMetadataAsync(IReadOnlyDictionary<string, string> metadata, BlobRequestConditions? conditions = null, CancellationToken cancellationToken = default)
    {
        using var message = Pipeline.CreateMessage(RequestMethod.Put, EscapedPath, ("comp", "metadata"));
        ApplyMetadata(message.Request, metadata);
        ApplyConditions(message.Request, conditions);
        var response = await Pipeline.SendAsync(message, "Set blob metadata", DisplayName, cancellationToken, 200).ConfigureAwait(false);
        return ReadContentInfo(response, 0);
    }

    /// <summary>Deletes the blob; throws if it does not exist.</summary>
    public async Task DeleteAsync(BlobRequestConditions? conditions = null, CancellationToken cancellationToken = default)
    {
        using var message = Pipeline.CreateMessage(RequestMethod.Delete, EscapedPath);
        ApplyConditions(message.Request, conditions);
        await Pipeline.SendAsync(message, "Delete blob", DisplayName, cancellationToken, 202).ConfigureAwait(false);
    }

    /// <summary>Deletes the blob if it exists; returns whether it existed.</summary>
    public async Task<bool> DeleteIfExistsAsync(BlobRequestConditions? conditions = null, CancellationToken cancellationToken = default)
    {
        using var message = Pipeline.CreateMessage(RequestMethod.Delete, EscapedPath);
        ApplyConditions(message.Request, conditions);
        var response = await Pipeline.SendAsync(message, "Delete blob", DisplayName, cancellationToken, 202, 404).ConfigureAwait(false);
        return response.Status == 202;
    }

    internal static void ApplyConditions(Request request, BlobRequestConditions? conditions)
    {
        if (conditions is null)
        {
            return;
        }

        if (conditions.IfMatch is { } ifMatch)
        {
            request.Headers.SetValue("If-Match", ifMatch.ToString("H"));
        }

        if (conditions.IfNoneMatch is { } ifNoneMatch)
        {
            request.Headers.SetValue("If-None-Match", ifNoneMatch == ETag.All ? "*" : ifNoneMatch.ToString("H"));
        }

        if (conditions.LeaseId is { } lease)
        {
            request.Headers.SetValue("x-ms-lease-id", lease);
        }
    }

    internal static void ApplyMetadata(Request request, IReadOnlyDictionary<string, string>? metadata)
    {
        if (metadata is null)
        {
            return;
        }

        foreach (var (key, value) in metadata)
        {
            if (!System.Text.RegularExpressions.Regex.IsMatch(key, "^[A-Za-z_][A-Za-z0-9_]*$"))
            {
                throw new ArgumentException($"Metadata name '{key}' is invalid: use letters, digits and '_', not starting with a digit.", nameof(metadata));
            }

            if (value.Any(c => c > 127 || char.IsControl(c)))
            {
                throw new ArgumentException($"Metadata value for '{key}' must be printable ASCII; encode other text (for example as base64).", nameof(metadata));
            }

            request.Headers.SetValue("x-ms-meta-" + key, value);
        }
    }

    internal static BlobContentInfo ReadContentInfo(Response response, long length)
    {
        response.Headers.TryGetValue("ETag", out var etag);
        response.Headers.TryGetValue("Last-Modified", out var modified);
        return new BlobContentInfo(
            new ETag(etag ?? string.Empty),
            modified is null ? DateTimeOffset.MinValue : DateTimeOffset.Parse(modified, CultureInfo.InvariantCulture),
            length);
    }

    internal static BlobProperties ReadProperties(Response response)
    {
        var metadata = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var header in response.Headers)
        {
            if (header.Name.StartsWith("x-ms-meta-", StringComparison.OrdinalIgnoreCase))
            {
                metadata[header.Name["x-ms-meta-".Length..]] = header.Value;
            }
        }

        string? Header(string name) => response.Headers.TryGetValue(name, out var v) ? v : null;
        long length;
        if (Header("Content-Range") is { } range && range.LastIndexOf('/') is var slash and > 0)
        {
            length = long.Parse(range[(slash + 1)..], CultureInfo.InvariantCulture);
        }
        else
        {
            length = long.Parse(Header("Content-Length") ?? "0", CultureInfo.InvariantCulture);
        }

        return new BlobProperties(
            length,
            Header("Content-Type"),
            Header("Content-Encoding"),
            new ETag(Header("ETag") ?? string.Empty),
            Header("Last-Modified") is { } lm ? DateTimeOffset.Parse(lm, CultureInfo.InvariantCulture) : DateTimeOffset.MinValue,
            metadata,
            Header("x-ms-lease-state"),
            Header("x-ms-lease-status"));
    }

    internal static string BlockId(int index) =>
        Convert.ToBase64String(Encoding.ASCII.GetBytes($"fsblock-{index:D8}"));
}
