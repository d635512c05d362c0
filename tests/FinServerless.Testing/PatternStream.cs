using System.Security.Cryptography;

namespace FinServerless.Testing;

/// <summary>
/// A read-only stream of a given length of pseudo-random bytes, generated on the fly (no memory grows with
/// length) and hashed as it is read, for large upload tests.
/// </summary>
public sealed class PatternStream(long length, int seed = 1) : Stream
{
    /// <inheritdoc/>
    public override bool CanRead => true;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override bool CanWrite => false;

    /// <inheritdoc/>
    public override void Flush()
    {
    }

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException();

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private ulong _state = (ulong)seed * 0x9E3779B97F4A7C15UL;
    private long _position;

    /// <summary>SHA-256 of everything read so far (call after reading to the end).</summary>
    public byte[] Sha256 => _hash.GetCurrentHash();

    /// <inheritdoc/>
    public override long Length => length;

    /// <inheritdoc/>
    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    /// <inheritdoc/>
    public override int Read(Span<byte> buffer)
    {
        var n = (int)Math.Min(buffer.Length, length - _position);
        var span = buffer[..n];
        var i = 0;
        for (; i + 8 <= n; i += 8)
        {
            BitConverter.TryWriteBytes(span[i..], Next());
        }

        if (i < n)
        {
            Span<byte> tail = stackalloc byte[8];
            BitConverter.TryWriteBytes(tail, Next());
            tail[..(n - i)].CopyTo(span[i..]);
        }

        _hash.AppendData(span);
        _position += n;
        return n;
    }

    /// <inheritdoc/>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }

    private ulong Next()
    {
        // xorshift64*: fast, deterministic, incompressible enough for transfer tests.
        _state ^= _state >> 12;
        _state ^= _state << 25;
        _state ^= _state >> 27;
        return _state * 2685821657736338717UL;
    }
}
