using System.IO.Compression;
using System.Security.Cryptography;
using FinServerless.Datasets.Ingest;
using FinServerless.Datasets.Validation;

namespace FinServerless.Datasets.Csv;

/// <summary>
/// Decompresses a gzip file of one or more members (RFC 1952 allows <c>cat a.gz b.gz</c>), refuses one that is
/// cut short or expands past its limits, and stops inflating the moment a limit is crossed.
/// </summary>
/// <remarks>
/// GZipStream checks the CRC and length of every member it completes, but ends quietly when the input ends
/// inside a member. So the input is followed by one more member of our own, holding a random 16-byte marker
/// made for this stream: a whole file ends with the marker, while a file cut inside a member (or its trailer)
/// turns the marker's bytes into the rest of a broken member, which fails its CRC or ends without the marker.
/// The last 16 bytes of output are held back until the end, where they must be the marker, and are dropped.
/// Bytes after the last member that are not gzip end the decoder early, so they are refused the same way.
/// A file cut exactly between two members cannot be told from a shorter whole file.
/// </remarks>
internal sealed class CheckedGzipStream : ReadOnlyStream
{
    private const int MarkerBytes = 16;

    // One read inflates at most this much, so a limit is never overshot by more than one such read.
    private const int MaxInflatePerRead = 1 << 20;

    private readonly MarkedInput _input;
    private readonly GZipStream _gzip;
    private readonly byte[] _marker;
    private readonly DecompressionLimits _limits;
    private readonly string _source;
    private readonly byte[] _held = new byte[MarkerBytes];
    private int _heldCount;
    private byte[]? _small;
    private int _smallStart;
    private int _smallEnd;
    private long _released;
    private bool _ended;

    public CheckedGzipStream(Stream compressed, DecompressionLimits limits, string source)
    {
        _limits = limits;
        _source = source;
        _marker = RandomNumberGenerator.GetBytes(MarkerBytes);
        var member = new MemoryStream();
        using (var gzip = new GZipStream(member, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(_marker);
        }

        _input = new MarkedInput(compressed, member.ToArray());
        _gzip = new GZipStream(_input, CompressionMode.Decompress);
    }

    /// <summary>Decompressed bytes handed out so far.</summary>
    public long DecompressedBytes => _released;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (buffer.Length == 0)
        {
            return 0;
        }

        if (buffer.Length > MarkerBytes && _smallStart == _smallEnd)
        {
            return ReadHoldingBack(buffer);
        }

        // Reads too small to hold the marker back in place go through a small buffer.
        if (_smallStart == _smallEnd)
        {
            _small ??= new byte[4096];
            _smallStart = 0;
            _smallEnd = ReadHoldingBack(_small);
            if (_smallEnd == 0)
            {
                return 0;
            }
        }

        var n = Math.Min(buffer.Length, _smallEnd - _smallStart);
        _small!.AsSpan(_smallStart, n).CopyTo(buffer);
        _smallStart += n;
        return n;
    }

    /// <summary>Fills <paramref name="buffer"/> (longer than the marker) with output, keeping its last 16 bytes back.</summary>
    private int ReadHoldingBack(Span<byte> buffer)
    {
        while (!_ended)
        {
            // The held bytes go first, and the new output lands right behind them.
            _held.AsSpan(0, _heldCount).CopyTo(buffer);
            var room = buffer[_heldCount..];
            var n = _gzip.Read(room.Length > MaxInflatePerRead ? room[..MaxInflatePerRead] : room);
            if (n == 0)
            {
                _ended = true;
                if (_heldCount != MarkerBytes || !_held.AsSpan().SequenceEqual(_marker))
                {
                    throw new InvalidDataException("the gzip data ends inside a member, or is followed by bytes that are not gzip");
                }

                return 0;
            }

            var total = _heldCount + n;
            if (total <= MarkerBytes)
            {
                buffer[..total].CopyTo(_held);
                _heldCount = total;
                continue;
            }

            var release = total - MarkerBytes;
            buffer.Slice(release, MarkerBytes).CopyTo(_held);
            _heldCount = MarkerBytes;
            _released += release;
            CheckLimits();
            return release;
        }

        return 0;
    }

    private void CheckLimits()
    {
        if (_released > _limits.MaxDecompressedBytes)
        {
            throw new FileRejectedException(FileRejectionRules.DecompressionLimit,
                $"{_source}: the file decompresses to more than {_limits.MaxDecompressedBytes:N0} bytes, the limit per file (IngestOptions.MaxDecompressedBytes, setting {IngestSettings.MaxDecompressedBytes}); it was not read further. Split it into smaller files, or raise the limit.");
        }

        if (_released > DecompressionLimits.RatioFloorBytes && _released > _limits.MaxExpansionRatio * _input.CompressedBytes)
        {
            throw new FileRejectedException(FileRejectionRules.DecompressionLimit,
                $"{_source}: the file expands more than {_limits.MaxExpansionRatio:0.##}:1 ({_released:N0} bytes from the first {_input.CompressedBytes:N0} compressed bytes), over the limit (IngestOptions.MaxExpansionRatio, setting {IngestSettings.MaxExpansionRatio}); it looks like a decompression bomb and was not read further.");
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _gzip.Dispose();
        }

        base.Dispose(disposing);
    }

    /// <summary>The compressed file, then the marker member; counts the file's own bytes.</summary>
    private sealed class MarkedInput(Stream inner, byte[] marker) : ReadOnlyStream
    {
        private int _markerRead = -1;

        /// <summary>Bytes read from the file itself (the marker member not included).</summary>
        public long CompressedBytes { get; private set; }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_markerRead < 0)
            {
                var n = inner.Read(buffer);
                if (n > 0 || buffer.Length == 0)
                {
                    CompressedBytes += n;
                    return n;
                }

                _markerRead = 0;
            }

            var m = Math.Min(buffer.Length, marker.Length - _markerRead);
            marker.AsSpan(_markerRead, m).CopyTo(buffer);
            _markerRead += m;
            return m;
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
}
