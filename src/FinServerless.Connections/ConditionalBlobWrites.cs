using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace FinServerless.Connections;

/// <summary>
/// Create-only and ETag-conditional blob writes that are reported exactly once. The SDK retries a write whose
/// response was lost (connection cut after the service committed it); the retry then fails its own condition
/// (409 BlobAlreadyExists for create-only, 412 ConditionNotMet for If-Match) and the SDK reports a lost race for
/// a write that in fact won. These helpers stamp each write with a unique id in the blob's metadata and, on a
/// conflict, read the blob back: if it carries their id the write is theirs and is reported as written.
/// </summary>
public static class ConditionalBlobWrites
{
    /// <summary>The metadata key holding the id of the write that produced the blob's current content.</summary>
    public const string WriteIdKey = "fswriteid";

    /// <summary>Writes <paramref name="content"/> only if the blob does not exist; returns the new ETag.</summary>
    /// <exception cref="RequestFailedException">409 BlobAlreadyExists when another writer created the blob.</exception>
    public static Task<ETag> CreateOnlyAsync(BlobClient blob, BinaryData content, BlobUploadOptions? options = null, CancellationToken cancellationToken = default) =>
        WriteAsync(blob, content.ToStream(), options, new BlobRequestConditions { IfNoneMatch = ETag.All }, cancellationToken);

    /// <summary>Streams <paramref name="content"/> into a blob that must not exist yet (staged in blocks when large).</summary>
    public static Task<ETag> CreateOnlyAsync(BlobClient blob, Stream content, BlobUploadOptions? options = null, CancellationToken cancellationToken = default) =>
        WriteAsync(blob, content, options, new BlobRequestConditions { IfNoneMatch = ETag.All }, cancellationToken);

    /// <summary>Replaces the blob only if it is still at <paramref name="ifMatch"/>; returns the new ETag.</summary>
    /// <exception cref="RequestFailedException">412 when another writer changed the blob since it was read.</exception>
    public static Task<ETag> ReplaceIfMatchAsync(BlobClient blob, BinaryData content, ETag ifMatch, BlobUploadOptions? options = null, CancellationToken cancellationToken = default) =>
        WriteAsync(blob, content.ToStream(), options, new BlobRequestConditions { IfMatch = ifMatch }, cancellationToken);

    private static async Task<ETag> WriteAsync(BlobClient blob, Stream content, BlobUploadOptions? options, BlobRequestConditions conditions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(blob);
        var writeId = Guid.NewGuid().ToString("N");
        var metadata = new Dictionary<string, string>(options?.Metadata ?? new Dictionary<string, string>(), StringComparer.OrdinalIgnoreCase)
        {
            [WriteIdKey] = writeId,
        };
        var upload = new BlobUploadOptions
        {
            HttpHeaders = options?.HttpHeaders,
            Metadata = metadata,
            Tags = options?.Tags,
            AccessTier = options?.AccessTier,
            TransferOptions = options?.TransferOptions ?? default,
            ProgressHandler = options?.ProgressHandler,
            Conditions = conditions,
        };
        try
        {
            return (await blob.UploadAsync(content, upload, cancellationToken).ConfigureAwait(false)).Value.ETag;
        }
        catch (RequestFailedException ex) when (ex.Status is 409 or 412)
        {
            // Lost the race, or won it on a try whose answer was lost and then tripped over our own write.
            BlobProperties? current = null;
            try
            {
                current = (await blob.GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
            }
            catch (RequestFailedException)
            {
                // Cannot tell; report the conflict the service gave.
            }

            if (current is not null && current.Metadata.TryGetValue(WriteIdKey, out var found) && found == writeId)
            {
                return current.ETag;
            }

            throw;
        }
    }
}
