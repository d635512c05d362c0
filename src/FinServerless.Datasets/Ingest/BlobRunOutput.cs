using Azure;
using Azure.Storage;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Blobs.Specialized;

namespace FinServerless.Datasets.Ingest;

/// <summary>Run outputs in blob storage: the first path segment is the container.</summary>
public sealed class BlobRunOutput(BlobServiceClient service) : IRunOutput
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, Task> _containers = new(StringComparer.Ordinal);

    /// <inheritdoc/>
    public async Task<bool> WriteAsync(string path, ReadOnlyMemory<byte> content, string contentType, bool createOnly, CancellationToken cancellationToken)
    {
        var blob = await WritableBlobAsync(path).ConfigureAwait(false);
        try
        {
            await blob.UploadAsync(new BinaryData(content), new BlobUploadOptions
            {
                HttpHeaders = new BlobHttpHeaders { ContentType = contentType },
                Conditions = createOnly ? new BlobRequestConditions { IfNoneMatch = ETag.All } : null,
                TransferOptions = Transfer,
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException ex) when (createOnly && ex.Status is 409 or 412)
        {
            return false;
        }
        catch (Exception ex) when (Unreachable(ex))
        {
            throw FinServerless.Connections.StorageFailure.Describe(ex, "upload", blob.Uri);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Optimistic concurrency: the upload is conditional on the ETag read (or on no blob), and retried on a conflict.</remarks>
    public async Task<bool> UpdateAsync(string path, Func<byte[]?, byte[]?> update, string contentType, CancellationToken cancellationToken)
    {
        var blob = await WritableBlobAsync(path).ConfigureAwait(false);
        for (var attempt = 1; ; attempt++)
        {
            byte[]? current = null;
            ETag? etag = null;
            try
            {
                var content = (await blob.DownloadContentAsync(cancellationToken).ConfigureAwait(false)).Value;
                (current, etag) = (content.Content.ToArray(), content.Details.ETag);
            }
            catch (RequestFailedException ex) when (ex.Status == 404)
            {
            }

            if (update(current) is not { } next)
            {
                return false;
            }

            try
            {
                await blob.UploadAsync(new BinaryData(next), new BlobUploadOptions
                {
                    HttpHeaders = new BlobHttpHeaders { ContentType = contentType },
                    Conditions = etag is { } match ? new BlobRequestConditions { IfMatch = match } : new BlobRequestConditions { IfNoneMatch = ETag.All },
                }, cancellationToken).ConfigureAwait(false);
                return true;
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412 && attempt < 50)
            {
                // Another writer changed it since it was read: decide again on what it wrote.
            }
        }
    }

    /// <inheritdoc/>
    public async Task<byte[]?> ReadAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return (await Blob(path).DownloadContentAsync(cancellationToken).ConfigureAwait(false)).Value.Content.ToArray();
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
        catch (Exception ex) when (Unreachable(ex))
        {
            throw FinServerless.Connections.StorageFailure.Describe(ex, "download", Blob(path).Uri);
        }
    }

    /// <inheritdoc/>
    /// <remarks>Read in ranges of 4 MiB, pinned to the version first seen: a blob replaced meanwhile fails the read.</remarks>
    public async Task<Stream?> OpenReadAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            var blob = Blob(path);
            return new DescribedReadStream(await blob.OpenReadAsync(new BlobOpenReadOptions(allowModifications: false) { BufferSize = ReadBlockBytes }, cancellationToken).ConfigureAwait(false), blob.Uri);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
        catch (Exception ex) when (Unreachable(ex))
        {
            throw FinServerless.Connections.StorageFailure.Describe(ex, "download", Blob(path).Uri);
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Staged as blocks of 4 MiB and made visible by committing the block list: an uncommitted writer leaves the blob
    /// as it was (the service drops uncommitted blocks after a week). Each writer names its blocks with its own random
    /// prefix, so two writers of the same blob never mix their blocks; the last commit wins.
    /// </remarks>
    public async Task<ObjectWriter> OpenWriteAsync(string path, string contentType, CancellationToken cancellationToken)
    {
        var blob = await WritableBlobAsync(path).ConfigureAwait(false);
        var (container, name) = Split(path);
        return new BlockObjectWriter(service.GetBlobContainerClient(container).GetBlockBlobClient(name), blob.Uri, contentType);
    }

    /// <summary>
    /// A blob's content stream whose failures part-way (the blob replaced since it was opened, retries exhausted) are
    /// described like any other storage failure: operation, blob and status, never the service's text.
    /// </summary>
    private sealed class DescribedReadStream(Stream inner, Uri uri) : ReadOnlyStream
    {
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            try
            {
                return inner.Read(buffer);
            }
            catch (Exception ex) when (ex is RequestFailedException || Unreachable(ex) || ex is IOException)
            {
                throw FinServerless.Connections.StorageFailure.Describe(ex, "download", uri);
            }
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>Bytes per ranged read and per staged block of the streaming reader and writer.</summary>
    public const int ReadBlockBytes = 4 * 1024 * 1024;

    private sealed class BlockObjectWriter(BlockBlobClient blob, Uri uri, string contentType) : ObjectWriter
    {
        private readonly string _prefix = Guid.NewGuid().ToString("N");
        private readonly List<string> _blocks = [];
        private byte[]? _buffer;
        private int _filled;

        protected override async Task AppendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
        {
            while (!bytes.IsEmpty)
            {
                _buffer ??= System.Buffers.ArrayPool<byte>.Shared.Rent(ReadBlockBytes);
                var n = Math.Min(bytes.Length, ReadBlockBytes - _filled);
                bytes.Span[..n].CopyTo(_buffer.AsSpan(_filled));
                _filled += n;
                bytes = bytes[n..];
                if (_filled == ReadBlockBytes)
                {
                    await StageAsync(cancellationToken).ConfigureAwait(false);
                }
            }
        }

        protected override async Task FinishAsync(CancellationToken cancellationToken)
        {
            if (_filled > 0)
            {
                await StageAsync(cancellationToken).ConfigureAwait(false);
            }

            try
            {
                await blob.CommitBlockListAsync(_blocks, new CommitBlockListOptions { HttpHeaders = new BlobHttpHeaders { ContentType = contentType } }, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (Unreachable(ex))
            {
                throw FinServerless.Connections.StorageFailure.Describe(ex, "upload", uri);
            }

            Release();
        }

        private async Task StageAsync(CancellationToken cancellationToken)
        {
            // Block ids: the writer's prefix and a sequence number, all the same length as the service requires.
            var id = Convert.ToBase64String(System.Text.Encoding.ASCII.GetBytes($"{_prefix}-{_blocks.Count:D6}"));
            try
            {
                using var content = new MemoryStream(_buffer!, 0, _filled, writable: false);
                await blob.StageBlockAsync(id, content, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (Unreachable(ex))
            {
                throw FinServerless.Connections.StorageFailure.Describe(ex, "upload", uri);
            }

            _blocks.Add(id);
            _filled = 0;
        }

        private void Release()
        {
            if (_buffer is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = null;
            }
        }

        public override async ValueTask DisposeAsync()
        {
            Release();
            await base.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>The service did not answer (retries exhausted on the network): described with the account and operation.</summary>
    private static bool Unreachable(Exception ex) =>
        ex is AggregateException or HttpRequestException or TimeoutException || (ex is RequestFailedException { Status: 0 });

    /// <inheritdoc/>
    public async Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken)
    {
        var (container, name) = Split(prefix);
        var client = service.GetBlobContainerClient(container);
        if (!await client.ExistsAsync(cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        await foreach (var item in client.GetBlobsAsync(BlobTraits.None, BlobStates.None, name, cancellationToken).ConfigureAwait(false))
        {
            await client.GetBlobClient(item.Name).DeleteIfExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public string Describe(string path) => Blob(path).Uri.ToString();

    /// <summary>Uploads in blocks of 8 MiB, four in flight: memory stays bounded whatever the size.</summary>
    public static StorageTransferOptions Transfer { get; } = new()
    {
        InitialTransferSize = 8 * 1024 * 1024,
        MaximumTransferSize = 8 * 1024 * 1024,
        MaximumConcurrency = 4,
    };

    private async Task<BlobClient> WritableBlobAsync(string path)
    {
        var (container, name) = Split(path);
        var client = service.GetBlobContainerClient(container);
        try
        {
            // Each container is made sure of once per output, not before every write.
            await _containers.GetOrAdd(container, _ => client.CreateIfNotExistsAsync(cancellationToken: CancellationToken.None)).ConfigureAwait(false);
        }
        catch
        {
            _containers.TryRemove(container, out _);
            throw;
        }

        return client.GetBlobClient(name);
    }

    private BlobClient Blob(string path)
    {
        var (container, name) = Split(path);
        return service.GetBlobContainerClient(container).GetBlobClient(name);
    }

    private static (string Container, string Name) Split(string path)
    {
        var slash = path.IndexOf('/');
        return slash < 0 ? (path, string.Empty) : (path[..slash], path[(slash + 1)..]);
    }
}
