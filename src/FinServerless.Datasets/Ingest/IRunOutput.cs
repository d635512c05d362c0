namespace FinServerless.Datasets.Ingest;

/// <summary>Where a run's outputs go: blob storage (the platform) or a local folder (CLI, benchmarks). Paths use '/'.</summary>
public interface IRunOutput
{
    /// <summary>Writes a whole object; with <paramref name="createOnly"/>, returns false (and writes nothing) when it exists.</summary>
    Task<bool> WriteAsync(string path, ReadOnlyMemory<byte> content, string contentType, bool createOnly, CancellationToken cancellationToken);

    /// <summary>Reads an object, or null when absent.</summary>
    Task<byte[]?> ReadAsync(string path, CancellationToken cancellationToken);

    /// <summary>Deletes every object under a prefix.</summary>
    Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces an object only from the content it had: <paramref name="update"/> gets the current bytes (null when
    /// absent) and returns the new ones, or null to leave it; a concurrent change makes it run again on the newer
    /// content. Returns whether it wrote. This default is for single-writer stores; the platform's stores override it.
    /// </summary>
    async Task<bool> UpdateAsync(string path, Func<byte[]?, byte[]?> update, string contentType, CancellationToken cancellationToken)
    {
        if (update(await ReadAsync(path, cancellationToken).ConfigureAwait(false)) is not { } next)
        {
            return false;
        }

        await WriteAsync(path, next, contentType, createOnly: false, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>
    /// Opens an object for reading as a stream, or null when absent (large objects are read without holding them
    /// whole). This default reads the object whole; the platform's stores stream it.
    /// </summary>
    async Task<Stream?> OpenReadAsync(string path, CancellationToken cancellationToken) =>
        await ReadAsync(path, cancellationToken).ConfigureAwait(false) is { } bytes ? new MemoryStream(bytes, writable: false) : null;

    /// <summary>
    /// Starts writing an object as a stream. Nothing is visible at <paramref name="path"/> until
    /// <see cref="ObjectWriter.CommitAsync"/> (which replaces any object there); disposing a writer that was not
    /// committed leaves the path as it was. This default gathers the bytes and writes them whole on commit; the
    /// platform's stores write in bounded blocks.
    /// </summary>
    Task<ObjectWriter> OpenWriteAsync(string path, string contentType, CancellationToken cancellationToken) =>
        Task.FromResult<ObjectWriter>(new BufferedObjectWriter(this, path, contentType));

    /// <summary>Describes a path for messages (for example a blob URL without credentials).</summary>
    string Describe(string path);
}

/// <summary>
/// An object being written: bytes go in with <see cref="WriteAsync"/> (in order, one writer at a time); the object
/// appears whole at its path on <see cref="CommitAsync"/>, and not at all if the writer is disposed first.
/// </summary>
public abstract class ObjectWriter : IAsyncDisposable
{
    /// <summary>Bytes written so far.</summary>
    public long Length { get; private set; }

    /// <summary>Whether <see cref="CommitAsync"/> has completed.</summary>
    protected bool Committed { get; private set; }

    /// <summary>Appends <paramref name="bytes"/>.</summary>
    public async Task WriteAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Committed, this);
        await AppendAsync(bytes, cancellationToken).ConfigureAwait(false);
        Length += bytes.Length;
    }

    /// <summary>Makes the object visible at its path, replacing what was there.</summary>
    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(Committed, this);
        await FinishAsync(cancellationToken).ConfigureAwait(false);
        Committed = true;
    }

    /// <summary>Stores <paramref name="bytes"/> after what was appended before.</summary>
    protected abstract Task AppendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken);

    /// <summary>Publishes what was appended.</summary>
    protected abstract Task FinishAsync(CancellationToken cancellationToken);

    /// <summary>Releases what an uncommitted writer holds (a temporary file; staged blocks are left for the service to expire).</summary>
    public virtual ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return ValueTask.CompletedTask;
    }
}

/// <summary>The default <see cref="ObjectWriter"/>: bytes gathered in memory, written whole on commit.</summary>
internal sealed class BufferedObjectWriter(IRunOutput store, string path, string contentType) : ObjectWriter
{
    private readonly MemoryStream _bytes = new();

    protected override Task AppendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
    {
        _bytes.Write(bytes.Span);
        return Task.CompletedTask;
    }

    protected override Task FinishAsync(CancellationToken cancellationToken) =>
        store.WriteAsync(path, _bytes.GetBuffer().AsMemory(0, (int)_bytes.Length), contentType, createOnly: false, cancellationToken);
}
