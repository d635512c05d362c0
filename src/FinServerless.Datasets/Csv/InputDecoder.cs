using FinServerless.Datasets.Validation;

namespace FinServerless.Datasets.Csv;

/// <summary>
/// Opens a partner file for reading: detects gzip by its magic bytes, skips a UTF-8 byte-order mark, and
/// refuses UTF-16 and binary content with a reason instead of reading garbage.
/// </summary>
public static class InputDecoder
{
    /// <summary>
    /// Returns a stream of the file's UTF-8 text (decompressed, without BOM). Gzip is decompressed within
    /// <paramref name="limits"/> (the defaults when null): crossing one throws <see cref="FileRejectedException"/>
    /// with rule <see cref="FileRejectionRules.DecompressionLimit"/>; truncated or corrupt gzip throws <see cref="InvalidDataException"/>.
    /// </summary>
    public static Stream Open(Stream raw, string compression, string source, DecompressionLimits? limits = null)
    {
        var peek = new PeekStream(raw);
        var head = peek.Peek(2);
        var isGzip = head.Length == 2 && head[0] == 0x1F && head[1] == 0x8B;
        if (compression == "gzip" && !isGzip)
        {
            throw new CsvFormatException(source, 1, "the contract says gzip but the file does not start with the gzip signature (1F 8B).");
        }

        Stream text = isGzip && compression != "none" ? new CheckedGzipStream(peek, limits ?? DecompressionLimits.Default, source) : peek;
        var decoded = new PeekStream(text);

        // Corrupt gzip surfaces here as InvalidDataException, as it does later in the file: one rule for both.
        var start = decoded.Peek(4096);

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
