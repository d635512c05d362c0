namespace FinServerless.Storage;

/// <summary>
/// Base of the forward-only, read-only streams used across the platform (downloads, decoders, hashing
/// wrappers): subclasses implement <see cref="Stream.Read(byte[], int, int)"/> and nothing else.
/// </summary>
public abstract class ReadOnlyStream : Stream
{
    /// <inheritdoc/>
    public override bool CanRead => true;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override bool CanWrite => false;

    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException($"{GetType().Name} reads forward only; its length is not known in advance.");

    /// <inheritdoc/>
    public override long Position
    {
        get => throw new NotSupportedException($"{GetType().Name} reads forward only.");
        set => throw new NotSupportedException($"{GetType().Name} reads forward only.");
    }

    /// <inheritdoc/>
    public override void Flush()
    {
    }

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException($"{GetType().Name} reads forward only.");

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException($"{GetType().Name} is read-only.");

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException($"{GetType().Name} is read-only.");
}
