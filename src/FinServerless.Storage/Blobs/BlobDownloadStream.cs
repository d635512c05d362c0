using System.Globalization;
using Azure;
using Azure.Core;

namespace FinServerless.Storage.Blobs;

/// <summary>
/// A read-only stream over a blob. It streams one GET; when the connection fails mid-body it reopens with
/// <c>Range: bytes={position}-</c> and <c>If-Match</c> on the original ETag, so the bytes it returns always
/// belong to one version of the blob.
/// </summary>
public sealed class BlobDownloadStream : ReadOnlyStream
{
    private const int MaxConsecutiveResumes = 8;

    private readonly BlobClient _blob;
    private readonly BlobRequestConditions? _conditions;
    private Stream _body;
    private long _position;
    private int _resumesWithoutProgress;

    private BlobDownloadStream(BlobClient blob, BlobRequestConditions? conditions, Stream body, BlobProperties properties)
    {
        _blob = blob;
        _conditions = conditions;
        _body = body;
        Properties = properties;
    }

    /// <summary>The properties of the version being read (its ETag pins every resumed range).</summary>
    public BlobProperties Properties { get; }

    /// <summary>How many times a broken connection was resumed.</summary>
    public int Resumes { get; private set; }

    /// <inheritdoc/>
    public override long Length => Properties.ContentLength;

    /// <inheritdoc/>
    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException("Blob download streams read forward only.");
    }

    internal static async Task<BlobDownloadStream> OpenAsync(BlobClient blob, BlobRequestConditions? conditions, CancellationToken cancellationToken)
    {
        var (body, properties) = await GetAsync(blob, 0, conditions, cancellationToken).ConfigureAwait(false);
        return new BlobDownloadStream(blob, conditions, body, properties);
    }

    /// <inheritdoc/>
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (buffer.Length == 0 || _position >= Properties.ContentLength)
        {
            return 0;
        }

        while (true)
        {
            Exception? failure;
            try
            {
                var read = await _body.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (read > 0)
                {
                    _position += read;
                    _resumesWithoutProgress = 0;
                    return read;
                }

                failure = new IOException($"The connection ended at byte {_position} of {Properties.ContentLength}.");
            }
            catch (Exception ex) when (IsTransient(ex, cancellationToken))
            {
                failure = ex;
            }

            await ResumeAsync(failure, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) =>
        ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _body.Dispose();
        }

        base.Dispose(disposing);
    }

    private static bool IsTransient(Exception ex, CancellationToken cancellationToken) =>
        ex is IOException or System.Net.Http.HttpRequestException or RequestFailedException { Status: 0 or 500 or 503 }
        || (ex is OperationCanceledException && !cancellationToken.IsCancellationRequested);

    private async Task ResumeAsync(Exception failure, CancellationToken cancellationToken)
    {
        if (++_resumesWithoutProgress > MaxConsecutiveResumes)
        {
            throw new IOException(
                $"Download of {_blob.DisplayName} failed at byte {_position} of {Properties.ContentLength} after {MaxConsecutiveResumes} attempts to resume: {failure.Message}",
                failure);
        }

        await _body.DisposeAsync().ConfigureAwait(false);
        await Task.Delay(TimeSpan.FromMilliseconds(50 * (1 << Math.Min(_resumesWithoutProgress, 4))), cancellationToken).ConfigureAwait(false);
        var pinned = (_conditions ?? new BlobRequestConditions()) with { IfMatch = Properties.ETag };
        try
        {
            (_body, _) = await GetAsync(_blob, _position, pinned, cancellationToken).ConfigureAwait(false);
            Resumes++;
        }
        catch (RequestFailedException ex) when (ex.Status == 412)
        {
            throw new IOException($"Blob {_blob.DisplayName} was overwritten while it was being read (ETag {Properties.ETag} is gone); read it again.", ex);
        }
        catch (Exception ex) when (IsTransient(ex, cancellationToken))
        {
            // The reopen itself failed after the pipeline's own retries: keep the stream closed-over and try again.
            _body = Null;
        }
    }

    private static async Task<(Stream Body, BlobProperties Properties)> GetAsync(BlobClient blob, long offset, BlobRequestConditions? conditions, CancellationToken cancellationToken)
    {
        var message = blob.Pipeline.CreateMessage(RequestMethod.Get, blob.EscapedPath);
        try
        {
            message.BufferResponse = false;
            if (offset > 0)
            {
                message.Request.Headers.SetValue("x-ms-range", string.Create(CultureInfo.InvariantCulture, $"bytes={offset}-"));
            }

            BlobClient.ApplyConditions(message.Request, conditions);
            var response = await blob.Pipeline.SendAsync(message, "Download blob", blob.DisplayName, cancellationToken, offset > 0 ? 206 : 200).ConfigureAwait(false);
            var properties = BlobClient.ReadProperties(response);
            var body = message.ExtractResponseContent() ?? Null;
            return (body, properties);
        }
        finally
        {
            message.Dispose();
        }
    }
}
