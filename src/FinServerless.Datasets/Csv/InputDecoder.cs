using System.IO.Compression;
using FinServerless.Storage;

namespace FinServerless.Datasets.Csv;

/// <summary>
/// Opens a partner file for reading: detects gzip by its magic bytes, skips a UTF-8 byte-order mark, and
/// refuses UTF-16 and binary content with a reason instead of reading garbage.
/// </summary>
public static class InputDecoder
{
    /// <summary>Returns a stream of the file's UTF-8 text (decompressed, without BOM).</summary>
    public static Stream Open(Stream raw, string compression, string source)
    {
        var peek = new PeekStream(raw);
        var head = peek.Peek(2);
        var isGzip = head.Length == 2 && head[0] == 0x1F && head[1] == 0x8B;
        if (compression == "gzip" && !isGzip)
        {
            throw new CsvFormatException(source, 1, "the contract says gzip but the file does not start with the gzip signature (1F 8B).");
        }

        Stream text = isGzip && compression != "none" ? new CheckedGzipStream(peek) : peek;
        var decoded = new PeekStream(text);
        byte[] start;
        try
        {
            start = decoded.Peek(4096);
        }
        catch (InvalidDataException ex)
        {
            throw new CsvFormatException(source, 1, $"the gzip data is corrupt ({ex.Message}).");
        }

        if (start.Length >= 2 && ((start[0] == 0xFF && start[1] == 0xFE) || (start[0] == 0xFE && start[1] == 0xFF)))
        {
            throw new CsvFormatException(source, 1, "the file is UTF-16 (it starts with a UTF-16 byte-order mark); partners must send UTF-8.");
        }

        var nul = Array.IndexOf(start, (byte)0);
        if (nul >= 0)
        {
            // UTF-16 text of mostly ASCII has zeros in every other byte; binary data has them anywhere.
            int evenZeros = 0, oddZeros = 0;
            for (var i = 0; i < start.Length; i++)
            {
                if (start[i] == 0)
                {
                    if ((i & 1) == 0)
                    {
                        evenZeros++;
                    }
                    else
                    {
                        oddZeros++;
                    }
                }
            }

            var half = start.Length / 2;
            var looksUtf16 = (oddZeros > half * 0.6 && evenZeros < half * 0.1) || (evenZeros > half * 0.6 && oddZeros < half * 0.1);
            var problem = looksUtf16
                ? "the file looks like UTF-16 without a byte-order mark (every other byte is zero); partners must send UTF-8."
                : $"the file contains binary data (a NUL byte at offset {nul}); it is not a CSV text file.";
            throw new CsvFormatException(source, 1, problem);
        }

        if (start.Length >= 3 && start[0] == 0xEF && start[1] == 0xBB && start[2] == 0xBF)
        {
            decoded.Skip(3);
        }

        return decoded;
    }

    /// <summary>
    /// Decompresses gzip and checks the trailer: .NET's GZipStream ends quietly when the compressed data is cut
    /// short, so the decompressed length is compared with the ISIZE field of the last four bytes.
    /// </summary>
    private sealed class CheckedGzipStream : ReadOnlyStream
    {
        private readonly TailStream _tail;
        private readonly GZipStream _gzip;
        private long _length;

        public CheckedGzipStream(Stream compressed)
        {
            _tail = new TailStream(compressed);
            _gzip = new GZipStream(_tail, CompressionMode.Decompress);
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = _gzip.Read(buffer, offset, count);
            _length += n;
            if (n == 0 && count > 0)
            {
                var isize = _tail.LastFour;
                if (isize is null || isize.Value != (uint)_length)
                {
                    throw new InvalidDataException($"the gzip stream ended after {_length:N0} decompressed bytes but its trailer says {(isize?.ToString("N0") ?? "nothing")}: the file is truncated");
                }
            }

            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _gzip.Dispose();
            }

            base.Dispose(disposing);
        }
    }

    /// <summary>Remembers the last four bytes read through it.</summary>
    private sealed class TailStream(Stream inner) : ReadOnlyStream
    {
        private readonly byte[] _last = new byte[4];
        private long _total;

        public uint? LastFour => _total < 4 ? null : System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(_last);

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = inner.Read(buffer, offset, count);
            if (n >= 4)
            {
                Buffer.BlockCopy(buffer, offset + n - 4, _last, 0, 4);
            }
            else
            {
                for (var i = 0; i < n; i++)
                {
                    _last[0] = _last[1];
                    _last[1] = _last[2];
                    _last[2] = _last[3];
                    _last[3] = buffer[offset + i];
                }
            }

            _total += n;
            return n;
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

    /// <summary>A read-only stream that can look ahead at its first bytes without consuming them.</summary>
    private sealed class PeekStream(Stream inner) : ReadOnlyStream
    {
        private byte[] _ahead = [];
        private int _aheadPos;

        public byte[] Peek(int count)
        {
            var buffer = new byte[count];
            var n = 0;
            while (n < count)
            {
                var r = inner.Read(buffer, n, count - n);
                if (r == 0)
                {
                    break;
                }

                n += r;
            }

            _ahead = buffer[..n];
            _aheadPos = 0;
            return _ahead;
        }

        public void Skip(int count) => _aheadPos = Math.Min(_ahead.Length, _aheadPos + count);

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_aheadPos < _ahead.Length)
            {
                var n = Math.Min(count, _ahead.Length - _aheadPos);
                Buffer.BlockCopy(_ahead, _aheadPos, buffer, offset, n);
                _aheadPos += n;
                return n;
            }

            return inner.Read(buffer, offset, count);
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
