using System.Security.Cryptography;

namespace FinServerless.Datasets.Ingest;

/// <summary>Passes reads through and computes the SHA-256 and length of every byte read, and the time spent in the input's reads. Closing it leaves the input open.</summary>
public sealed class HashingReadStream(Stream inner) : ReadOnlyStream
{
    private long _readTicks;

    /// <summary>Seconds spent waiting for the input (its reads, not the hashing).</summary>
    public double ReadSeconds => _readTicks / (double)System.Diagnostics.Stopwatch.Frequency;

    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public long BytesRead { get; private set; }

    public override long Length => inner.Length;

    public override long Position { get => BytesRead; set => throw new NotSupportedException(); }

    /// <summary>Reads whatever is left (so the hash covers the whole input) and returns the hex digest.</summary>
    public string Finish()
    {
        var buffer = new byte[81920];
        while (Read(buffer, 0, buffer.Length) > 0)
        {
        }

        return Convert.ToHexStringLower(_hash.GetCurrentHash());
    }

    /// <summary>The SHA-256 of what was read so far, as lowercase hex.</summary>
    public string CurrentHash() => Convert.ToHexStringLower(_hash.GetCurrentHash());

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var start = System.Diagnostics.Stopwatch.GetTimestamp();
        var n = inner.Read(buffer);
        _readTicks += System.Diagnostics.Stopwatch.GetTimestamp() - start;
        _hash.AppendData(buffer[..n]);
        BytesRead += n;
        return n;
    }

    /// <summary>Releases the hash. Disposing this stream does not (decoders that own it close it early), nor does it close the input: its caller owns it.</summary>
    public void ReleaseHash() => _hash.Dispose();
}
