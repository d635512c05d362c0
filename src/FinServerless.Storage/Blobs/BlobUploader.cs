using System.Buffers;
using System.Security;
using System.Text;
using Azure.Core;

namespace FinServerless.Storage.Blobs;

/// <summary>Uploads streams of any length with memory bounded by block size × concurrency.</summary>
internal static class BlobUploader
{
    public static async Task<BlobContentInfo> UploadAsync(BlobClient blob, Stream content, BlobUploadOptions options, CancellationToken cancellationToken)
    {
        if (options.BlockSize is < 64 * 1024 or > 1024 * 1024 * 1024)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"BlockSize {options.BlockSize} must be between 64 KiB and 1 GiB.");
        }

        if (options.MaxConcurrency < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"MaxConcurrency {options.MaxConcurrency} must be at least 1.");
        }

        // Decide between one request and staged blocks without reading more than the threshold.
        if (content.CanSeek && content.Length - content.Position <= options.SingleUploadThreshold)
        {
            var small = new byte[content.Length - content.Position];
            await content.ReadExactlyAsync(small, cancellationToken).ConfigureAwait(false);
            return await PutBlobAsync(blob, small, options, cancellationToken).ConfigureAwait(false);
        }

        var head = new byte[Math.Min(options.SingleUploadThreshold + 1L, int.MaxValue - 64)];
        var headLength = await ReadFullAsync(content, head, cancellationToken).ConfigureAwait(false);
        if (headLength <= options.SingleUploadThreshold)
        {
            return await PutBlobAsync(blob, head.AsMemory(0, headLength), options, cancellationToken).ConfigureAwait(false);
        }

        var rest = new PrefixedStream(head.AsMemory(0, headLength), content);
        return await StageAndCommitAsync(blob, rest, options, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<BlobContentInfo> PutBlobAsync(BlobClient blob, ReadOnlyMemory<byte> data, BlobUploadOptions options, CancellationToken cancellationToken)
    {
        using var message = blob.Pipeline.CreateMessage(RequestMethod.Put, blob.EscapedPath);
        var request = message.Request;
        request.Headers.SetValue("x-ms-blob-type", "BlockBlob");
        ApplyBlobHeaders(request, options);
        BlobClient.ApplyConditions(request, options.Conditions);
        request.Content = RequestContent.Create(data);
        var response = await blob.Pipeline.SendAsync(message, "Upload blob", blob.DisplayName, cancellationToken, 201).ConfigureAwait(false);
        options.Progress?.Report(data.Length);
        return BlobClient.ReadContentInfo(response, data.Length);
    }

    private static async Task<BlobContentInfo> StageAndCommitAsync(BlobClient blob, Stream content, BlobUploadOptions options, CancellationToken cancellationToken)
    {
        using var failFast = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var pool = ArrayPool<byte>.Create(options.BlockSize, options.MaxConcurrency + 1);
        using var slots = new SemaphoreSlim(options.MaxConcurrency);
        var inflight = new List<Task>();
        var blockIds = new List<string>();
        long total = 0;
        long sent = 0;
        try
        {
            while (true)
            {
                await slots.WaitAsync(failFast.Token).ConfigureAwait(false);
                var buffer = pool.Rent(options.BlockSize);
                int read;
                try
                {
                    read = await ReadFullAsync(content, buffer.AsMemory(0, options.BlockSize), failFast.Token).ConfigureAwait(false);
                }
                catch
                {
                    pool.Return(buffer);
                    slots.Release();
                    throw;
                }

                if (read == 0)
                {
                    pool.Return(buffer);
                    slots.Release();
                    break;
                }

                if (blockIds.Count == 50_000)
                {
                    throw new InvalidOperationException($"Upload of {blob.DisplayName} needs more than 50,000 blocks; raise BlockSize (now {options.BlockSize} bytes).");
                }

                var id = BlobClient.BlockId(blockIds.Count);
                blockIds.Add(id);
                total += read;
                inflight.Add(StageOneAsync(blob, id, buffer, read, failFast.Token).ContinueWith(
                    t =>
                    {
                        pool.Return(buffer);
                        slots.Release();
                        if (t.IsCompletedSuccessfully)
                        {
                            options.Progress?.Report(Interlocked.Add(ref sent, read));
                        }
                        else
                        {
                            failFast.Cancel();
                        }

                        return t;
                    },
                    CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously,
                    TaskScheduler.Default).Unwrap());
                inflight.RemoveAll(t => t.IsCompletedSuccessfully);
                if (read < options.BlockSize)
                {
                    break;
                }
            }

            await Task.WhenAll(inflight).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // A block failed and cancelled the rest: surface the block's own error, not the cancellation.
            var failure = inflight.FirstOrDefault(t => t.IsFaulted)?.Exception?.InnerException;
            if (failure is not null)
            {
                throw failure;
            }

            throw;
        }

        return await CommitAsync(blob, blockIds, total, options, cancellationToken).ConfigureAwait(false);
    }

    private static async Task StageOneAsync(BlobClient blob, string blockId, byte[] buffer, int length, CancellationToken cancellationToken)
    {
        using var message = blob.Pipeline.CreateMessage(RequestMethod.Put, blob.EscapedPath, ("comp", "block"), ("blockid", blockId));
        message.Request.Content = RequestContent.Create(buffer.AsMemory(0, length));
        await blob.Pipeline.SendAsync(message, "Upload block", blob.DisplayName, cancellationToken, 201).ConfigureAwait(false);
    }

    private static async Task<BlobContentInfo> CommitAsync(BlobClient blob, List<string> blockIds, long total, BlobUploadOptions options, CancellationToken cancellationToken)
    {
        var xml = new StringBuilder("<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>");
        foreach (var id in blockIds)
        {
            xml.Append("<Latest>").Append(SecurityElement.Escape(id)).Append("</Latest>");
        }

        xml.Append("</BlockList>");
        using var message = blob.Pipeline.CreateMessage(RequestMethod.Put, blob.EscapedPath, ("comp", "blocklist"));
        ApplyBlobHeaders(message.Request, options);
        BlobClient.ApplyConditions(message.Request, options.Conditions);
        message.Request.Headers.SetValue("Content-Type", "application/xml");
        message.Request.Content = RequestContent.Create(Encoding.UTF8.GetBytes(xml.ToString()));
        var response = await blob.Pipeline.SendAsync(message, "Commit block list", blob.DisplayName, cancellationToken, 201).ConfigureAwait(false);
        return BlobClient.ReadContentInfo(response, total);
    }

    private static void ApplyBlobHeaders(Request request, BlobUploadOptions options)
    {
        if (options.ContentType is { } type)
        {
            request.Headers.SetValue("x-ms-blob-content-type", type);
        }

        if (options.ContentEncoding is { } encoding)
        {
            request.Headers.SetValue("x-ms-blob-content-encoding", encoding);
        }

        BlobClient.ApplyMetadata(request, options.Metadata);
    }

    private static async ValueTask<int> ReadFullAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await stream.ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    /// <summary>Reads already-buffered bytes, then the rest of the source stream.</summary>
    private sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream rest) : ReadOnlyStream
    {
        private ReadOnlyMemory<byte> _prefix = prefix;

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_prefix.Length > 0)
            {
                var n = Math.Min(buffer.Length, _prefix.Length);
                _prefix[..n].CopyTo(buffer);
                _prefix = _prefix[n..];
                return n;
            }

            return await rest.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override int Read(byte[] buffer, int offset, int count) =>
            ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    }
}
