namespace FinServerless.Datasets.Csv;

/// <summary>
/// Cuts a decoded CSV stream into blocks of whole rows, so that rows can be parsed and validated by several
/// threads while one thread only reads. A block ends where <see cref="CsvReader"/> would end a row: at the last
/// line feed when the block has no quote at all (the usual case, found with two vectorized searches), otherwise
/// where a quote-aware walk over the block says the last complete row ends. Memory: one block plus the
/// unfinished row carried into the next one.
/// </summary>
internal sealed class RowChunker
{
    private const byte Quote = (byte)'"';
    private const byte Lf = (byte)'\n';
    private const byte Cr = (byte)'\r';

    private readonly Stream _stream;
    private readonly byte _delimiter;
    private readonly int _maxRowBytes;
    private readonly string _source;
    private byte[] _carry;
    private int _carryLength;
    private long _nextLine;
    private bool _eof;

    /// <summary>Goes on from <paramref name="pending"/> (bytes already read from the stream) at line <paramref name="nextLine"/>.</summary>
    public RowChunker(Stream stream, byte delimiter, int maxRowBytes, string source, byte[] pending, long nextLine)
    {
        _stream = stream;
        _delimiter = delimiter;
        _maxRowBytes = maxRowBytes;
        _source = source;
        _carry = pending;
        _carryLength = pending.Length;
        _nextLine = nextLine;
    }

    /// <summary>
    /// Fills <paramref name="block"/> with the next whole rows (the file's last row may lack its line break);
    /// false when the input is exhausted. Throws <see cref="CsvFormatException"/> for a row over the limit.
    /// </summary>
    public bool Next(RowBlock block)
    {
        // Leave room for at least as many new bytes as carried ones (within the row limit), so a long row is
        // carried over only a few times.
        var buffer = block.Buffer;
        if (buffer.Length - _carryLength < buffer.Length / 2)
        {
            buffer = new byte[(int)Math.Min(Math.Max(buffer.Length, _carryLength) * 2L, Math.Max(buffer.Length, _maxRowBytes + 2L))];
        }

        _carry.AsSpan(0, _carryLength).CopyTo(buffer);
        var length = _carryLength;
        int cut;
        while (true)
        {
            while (!_eof && length < buffer.Length)
            {
                var n = _stream.Read(buffer, length, buffer.Length - length);
                if (n == 0)
                {
                    _eof = true;
                }

                length += n;
            }

            if (_eof)
            {
                cut = length;
                break;
            }

            cut = LastRowEnd(buffer.AsSpan(0, length), out var openQuote);
            if (cut > 0)
            {
                break;
            }

            // Not even one whole row: the row is long. Grow up to the limit, then refuse it as the reader
            // would: a quote still open is reported on the line where it opened.
            if (openQuote >= 0 && CsvReader.QuoteOpenPastLimit(length, _maxRowBytes))
            {
                throw CsvReader.QuoteOpenTooLong(_source, _nextLine + buffer.AsSpan(0, openQuote).Count(Lf), _maxRowBytes);
            }

            if (length > _maxRowBytes + 1L)
            {
                throw CsvReader.RowTooLong(_source, _nextLine, _maxRowBytes);
            }

            Array.Resize(ref buffer, (int)Math.Min(buffer.Length * 2L, _maxRowBytes + 2L));
        }

        block.Buffer = buffer;
        block.Length = cut;
        block.FirstLine = _nextLine;
        _nextLine += buffer.AsSpan(0, cut).Count(Lf);

        var rest = length - cut;
        if (_carry.Length < rest)
        {
            _carry = new byte[rest];
        }

        buffer.AsSpan(cut, rest).CopyTo(_carry);
        _carryLength = rest;
        return cut > 0;
    }

    /// <summary>
    /// Where the last complete row of <paramref name="span"/> (which starts at a row) ends; 0 when none does.
    /// <paramref name="openQuote"/> is where a quoted field opens that the span does not close (-1 if none).
    /// </summary>
    private int LastRowEnd(ReadOnlySpan<byte> span, out int openQuote)
    {
        openQuote = -1;
        if (span.IndexOf(Quote) < 0)
        {
            return span.LastIndexOf(Lf) + 1;
        }

        // The same rules as CsvReader: a quote opens a quoted field only at the start of a field; a closing
        // quote is followed by a delimiter, LF or CRLF. Anything else is a malformed row that the reader will
        // report: cut after everything, so that it is parsed (and reported) in this block.
        var pos = 0;
        var lastEnd = 0;
        while (pos < span.Length)
        {
            if (span[pos] != Quote)
            {
                var stop = span[pos..].IndexOfAny(_delimiter, Lf);
                if (stop < 0)
                {
                    return lastEnd;
                }

                pos += stop + 1;
                if (span[pos - 1] == Lf)
                {
                    lastEnd = pos;
                }

                continue;
            }

            var i = pos + 1;
            while (true)
            {
                var rel = span[i..].IndexOf(Quote);
                if (rel < 0)
                {
                    openQuote = pos;
                    return lastEnd;
                }

                i += rel;
                if (i + 1 < span.Length && span[i + 1] == Quote)
                {
                    i += 2;
                    continue;
                }

                break;
            }

            pos = i + 1;
            if (pos >= span.Length)
            {
                return lastEnd;
            }

            if (span[pos] == _delimiter)
            {
                pos++;
            }
            else if (span[pos] == Lf)
            {
                lastEnd = ++pos;
            }
            else if (span[pos] == Cr && pos + 1 < span.Length && span[pos + 1] == Lf)
            {
                pos += 2;
                lastEnd = pos;
            }
            else if (span[pos] == Cr && pos + 1 >= span.Length)
            {
                return lastEnd;
            }
            else
            {
                return span.Length;
            }
        }

        return lastEnd;
    }
}

/// <summary>A block of whole rows read by a <see cref="RowChunker"/>, with what a worker made of it.</summary>
internal sealed class RowBlock(int capacity)
{
    /// <summary>The rows' bytes (the first <see cref="Length"/> of them).</summary>
    public byte[] Buffer { get; set; } = new byte[capacity];

    public int Length { get; set; }

    /// <summary>Physical line of the block's first byte.</summary>
    public long FirstLine { get; set; }

    /// <summary>Order of the block in the file.</summary>
    public long Sequence { get; set; }

    /// <summary>Rows a worker found in the block.</summary>
    public int Count { get; set; }

    /// <summary>Rows a worker accepted.</summary>
    public long Accepted { get; set; }

    /// <summary>Curated rows a worker wrote for this block.</summary>
    public Output.Utf8CsvWriter Curated { get; } = new(capacity + (capacity / 4));

    /// <summary>Rows a worker rejected (row numbers relative to the block until the pipeline numbers them).</summary>
    public List<Ingest.RejectedRow> Rejected { get; } = [];

    /// <summary>What stopped parsing at this block (a malformed row, a row over the limit, a corrupt stream, a decompression limit).</summary>
    public Exception? Error { get; set; }

    public void Reset(long sequence)
    {
        Sequence = sequence;
        Length = 0;
        Count = 0;
        Accepted = 0;
        Error = null;
        Rejected.Clear();
        Curated.Clear();
    }
}
