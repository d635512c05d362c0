using Azure;

namespace FinServerless.Storage.Blobs;

/// <summary>Conditions for a blob operation: optimistic concurrency by ETag, create-only, and lease.</summary>
public sealed record BlobRequestConditions
{
    /// <summary>Only if the blob's current ETag equals this one.</summary>
    public ETag? IfMatch { get; init; }

    /// <summary>Only if the blob's ETag differs; <see cref="ETag.All"/> means only if the blob does not exist.</summary>
    public ETag? IfNoneMatch { get; init; }

    /// <summary>The lease held on the blob, required to write a leased blob.</summary>
    public string? LeaseId { get; init; }

    /// <summary>Create-only: succeed only when no blob exists under the name.</summary>
    public static BlobRequestConditions CreateOnly { get; } = new() { IfNoneMatch = ETag.All };

    /// <summary>Only when the blob still has this ETag.</summary>
    public static BlobRequestConditions Matching(ETag etag) => new() { IfMatch = etag };
}

/// <summary>How to upload a blob.</summary>
public sealed record BlobUploadOptions
{
    /// <summary>Content type stored with the blob (served back as Content-Type).</summary>
    public string? ContentType { get; init; }

    /// <summary>Content encoding stored with the blob (for example <c>gzip</c>).</summary>
    public string? ContentEncoding { get; init; }

    /// <summary>User metadata (names must be valid C# identifiers; values ASCII).</summary>
    public IReadOnlyDictionary<string, string>? Metadata { get; init; }

    /// <summary>Concurrency and lease conditions.</summary>
    public BlobRequestConditions? Conditions { get; init; }

    /// <summary>Contents up to this size go in one Put Blob; larger ones are staged as blocks.</summary>
    public int SingleUploadThreshold { get; init; } = 8 * 1024 * 1024;

    /// <summary>Size of each staged block.</summary>
    public int BlockSize { get; init; } = 8 * 1024 * 1024;

    /// <summary>How many blocks are uploaded at once; memory used is about (this + 1) × <see cref="BlockSize"/>.</summary>
    public int MaxConcurrency { get; init; } = 4;

    /// <summary>Progress callback with the number of bytes sent so far.</summary>
    public IProgress<long>? Progress { get; init; }
}

/// <summary>The result of a write: the blob's new ETag and time.</summary>
public sealed record BlobContentInfo(ETag ETag, DateTimeOffset LastModified, long ContentLength);

/// <summary>A blob's system properties and metadata.</summary>
public sealed record BlobProperties(
    long ContentLength,
    string? ContentType,
    string? ContentEncoding,
    ETag ETag,
    DateTimeOffset LastModified,
    IReadOnlyDictionary<string, string> Metadata,
    string? LeaseState,
    string? LeaseStatus);

/// <summary>One blob from a listing.</summary>
public sealed record BlobItem(
    string Name,
    long ContentLength,
    string? ContentType,
    ETag ETag,
    DateTimeOffset LastModified,
    IReadOnlyDictionary<string, string> Metadata);

/// <summary>One page of a listing and the marker of the next page (null at the end).</summary>
public sealed record BlobPage(IReadOnlyList<BlobItem> Items, string? ContinuationToken);
