using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Unicode;

namespace FinServerless.Datasets.Csv;

/// <summary>
/// A streaming RFC 4180 reader over UTF-8 bytes: quoted fields with embedded delimiters, quotes and newlines,
/// CRLF or LF, a cap on row length. Fields are exposed as byte spans valid until the next <see cref="ReadRow"/>;
/// memory is bounded by the longest row, whatever the file size. It also parses a block of whole rows in
/// memory (see <see cref="RowChunker"/>), which is how ingest workers parse in parallel.
/// </summary>
public sealed class CsvReader : IDisposable
{
    private const byte Quote = (byte)'"';
    private const byte Lf = (byte)'\n';
    private const byte Cr = (byte)'\r';

    private readonly Stream? _stream;
    private readonly byte _delimiter;
    private readonly int _maxRowBytes;
    private readonly string _source;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private bool _eof;
    private byte[] _scratch = new byte[256];
    private int _scratchUsed;
    private (int Start, int Length, bool Scratch)[] _fields = new (int, int, bool)[64];
    private int _rowStart;
    private int _rowEnd;
    private long _nextLine = 1;
    private bool _allValidUtf8;

    /// <summary>Creates a reader over an already decoded (decompressed, BOM-free) stream.</summary>
    public CsvReader(Stream stream, byte delimiter, int maxRowBytes, string source, int bufferSize = 1 << 20)
    {
        _stream = stream;
        _delimiter = delimiter;
        _maxRowBytes = maxRowBytes;
        _source = source;
        _buffer = new byte[Math.Max(bufferSize, 4096)];
    }

    /// <summary>Creates a reader for blocks of whole rows given with <see cref="Reset"/> (no stream).</summary>
    internal CsvReader(byte delimiter, int maxRowBytes, string source)
    {
        _delimiter = delimiter;
        _maxRowBytes = maxRowBytes;
        _source = source;
        _buffer = [];
        _eof = true;
    }

    /// <summary>Parses <paramref name="length"/> bytes of <paramref name="block"/> next, the first of them on line <paramref name="firstLine"/>.</summary>
    internal void Reset(byte[] block, int length, long firstLine)
    {
        _buffer = block;
        _start = 0;
        _end = length;
        _nextLine = firstLine;
        _allValidUtf8 = Utf8.IsValid(block.AsSpan(0, length));
        FieldCount = 0;
    }

    /// <summary>
    /// Goes on in blocks of whole rows (for parallel workers) from where this reader stands: the returned chunker
    /// reads the rest of the stream, starting with what this reader has buffered but not parsed.
    /// </summary>
    internal RowChunker ContinueInBlocks()
    {
        var pending = _buffer.AsSpan(_start, _end - _start).ToArray();
        _start = _end;
        return new RowChunker(_stream ?? Stream.Null, _delimiter, _maxRowBytes, _source, pending, _nextLine);
    }

    /// <summary>The error for a row longer than the contract allows.</summary>
    internal static CsvFormatException RowTooLong(string source, long line, int maxRowBytes) =>
        new(source, line, $"a row is longer than the limit of {maxRowBytes:N0} bytes (file.maxLineBytes); the file may lack line breaks, use another delimiter, or have an unterminated quote.");

    /// <summary>The error for a quoted field still open when its row passes the limit, at the line where the quote opened.</summary>
    internal static CsvFormatException QuoteOpenTooLong(string source, long quoteLine, int maxRowBytes) =>
        new(source, quoteLine, $"a quoted field opened on this line is still open after the row limit of {maxRowBytes:N0} bytes (file.maxLineBytes): its quote is probably never closed (unterminated quote).");

    /// <summary>
    /// Whether a quoted field still open after <paramref name="pending"/> bytes of its row is refused. The row
    /// chunker refuses it at the same point (a row with no end within the limit plus a line break).
    /// </summary>
    internal static bool QuoteOpenPastLimit(long pending, int maxRowBytes) => pending > maxRowBytes + 1L;

    /// <summary>Number of fields in the current row.</summary>
    public int FieldCount { get; private set; }

    /// <summary>Physical line (1-based) where the current row starts.</summary>
    public long Line { get; private set; }

    /// <summary>Rows read so far (including a header).</summary>
    public long RowsRead { get; private set; }

    /// <summary>Bytes consumed from the decoded stream so far.</summary>
    public long BytesRead { get; private set; }

    /// <summary>The current row's raw bytes, as in the file.</summary>
    public ReadOnlySpan<byte> RawRow => _buffer.AsSpan(_rowStart, _rowEnd - _rowStart);

    /// <summary>Whether the current row's bytes are valid UTF-8.</summary>
    public bool RowIsValidUtf8 => _allValidUtf8 || Utf8.IsValid(RawRow);

    /// <summary>Whether the current row had no quotes: its fields are exactly the bytes between delimiters.</summary>
    public bool RowIsPlain { get; private set; }

    /// <summary>Field <paramref name="index"/> of the current row (quotes removed, doubled quotes undone).</summary>
    public ReadOnlySpan<byte> this[int index]
    {
        get
        {
            var (start, length, scratch) = _fields[index];
            return (scratch ? _scratch : _buffer).AsSpan(start, length);
        }
    }

    /// <summary>Reads the next row; false at the end of the file. Blank lines are skipped.</summary>
    public bool ReadRow()
    {
        while (true)
        {
            if (_start >= _end && !Fill())
            {
                return false;
            }

            var result = TryParseRow();
            if (result == ParseResult.Row)
            {
                RowsRead++;
                return true;
            }

            if (result == ParseResult.Blank)
            {
                continue;
            }

            // Need more data for this row: keep its bytes, read more, and parse it again from its start.
            if (!Fill())
            {
                if (_start < _end)
                {
                    // The last row has no newline at the end: parse it with end-of-file semantics.
                    var last = TryParseRow(atEof: true);
                    if (last == ParseResult.Row)
                    {
                        RowsRead++;
                        return true;
                    }

                    if (last == ParseResult.Blank)
                    {
                        return false;
                    }
                }

                return false;
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _stream?.Dispose();

    private enum ParseResult
    {
        Row,
        Blank,
        NeedMore,
    }

    private ParseResult TryParseRow(bool atEof = false)
    {
        var span = _buffer.AsSpan(_start, _end - _start);
        var pos = 0;
        var fieldCount = 0;
        var newlines = 0L;
        _scratchUsed = 0;

        // A blank line (LF or CRLF alone) is not a row.
        if (span.Length > 0 && (span[0] == Lf || (span[0] == Cr && span.Length > 1 && span[1] == Lf)))
        {
            var skip = span[0] == Lf ? 1 : 2;
            _start += skip;
            BytesRead += skip;
            _nextLine++;
            return ParseResult.Blank;
        }

        // Fast path: a complete row without quotes, split 32 bytes at a time.
        if (Vector256.IsHardwareAccelerated && TryParsePlainRowVector(span, out var consumed, out var rowEnd) is var plain and >= 0)
        {
            return Finish(plain, consumed, 1, rowEnd, isPlain: true);
        }

        // Fast path: a complete row without quotes splits on the delimiter with one scalar pass.
        var lineEnd = span.IndexOf(Lf);
        if (lineEnd >= 0 && span[..lineEnd].IndexOf(Quote) < 0)
        {
            var end = lineEnd > 0 && span[lineEnd - 1] == Cr ? lineEnd - 1 : lineEnd;
            var fieldStart = 0;
            for (var k = 0; k < end; k++)
            {
                if (span[k] == _delimiter)
                {
                    AddField(fieldCount++, _start + fieldStart, k - fieldStart, false);
                    fieldStart = k + 1;
                }
            }

            AddField(fieldCount++, _start + fieldStart, end - fieldStart, false);
            return Finish(fieldCount, lineEnd + 1, 1, end, isPlain: true);
        }

        while (true)
        {
            if (pos >= span.Length)
            {
                if (!atEof)
                {
                    return CheckLength(span.Length);
                }

                // End of file right after a delimiter: one more empty field.
                AddField(fieldCount++, _start + pos, 0, false);
                return Finish(fieldCount, pos, newlines);
            }

            if (span[pos] == Quote)
            {
                // Quoted field: find the closing quote, undoing doubled quotes. A quote that never closes is
                // reported where it opened, not where the file (or the row limit) ends.
                var contentStart = pos + 1;
                var i = contentStart;
                var hasEscapes = false;
                var quoteLine = _nextLine + newlines;
                while (true)
                {
                    var rel = span[i..].IndexOf(Quote);
                    if (rel < 0)
                    {
                        if (atEof)
                        {
                            throw new CsvFormatException(_source, quoteLine, "a quoted field opened on this line is never closed (unterminated quote); the file may be truncated or a quote is missing.");
                        }

                        if (QuoteOpenPastLimit(span.Length, _maxRowBytes))
                        {
                            throw QuoteOpenTooLong(_source, quoteLine, _maxRowBytes);
                        }

                        return ParseResult.NeedMore;
                    }

                    newlines += System.MemoryExtensions.Count(span.Slice(i, rel), Lf);
                    i += rel;
                    if (i + 1 < span.Length && span[i + 1] == Quote)
                    {
                        hasEscapes = true;
                        i += 2;
                        continue;
                    }

                    if (i + 1 >= span.Length && !atEof)
                    {
                        return CheckLength(span.Length);
                    }

                    break;
                }

                var content = span[contentStart..i];
                if (hasEscapes)
                {
                    var at = Unescape(content);
                    AddField(fieldCount++, at, _scratchUsed - at, true);
                }
                else
                {
                    AddField(fieldCount++, _start + contentStart, content.Length, false);
                }

                pos = i + 1;
                if (pos >= span.Length)
                {
                    return Finish(fieldCount, pos, newlines);
                }

                var next = span[pos];
                if (next == _delimiter)
                {
                    pos++;
                    continue;
                }

                if (next == Lf)
                {
                    return Finish(fieldCount, pos + 1, newlines + 1, pos);
                }

                if (next == Cr && pos + 1 < span.Length && span[pos + 1] == Lf)
                {
                    return Finish(fieldCount, pos + 2, newlines + 1, pos);
                }

                if (next == Cr && pos + 1 >= span.Length && !atEof)
                {
                    return CheckLength(span.Length);
                }

                // The text itself is never quoted back (it may be personal data); a likely delimiter is named.
                var closeLine = _nextLine + newlines;
                if (closeLine > quoteLine)
                {
                    throw new CsvFormatException(_source, quoteLine,
                        $"a quoted field opened on this line (field {fieldCount}) is closed on line {closeLine:N0} by a quote followed by more text: the quote opened here is probably never closed (unterminated quote), or a quote inside the field is not doubled.");
                }

                var hint = next is (byte)';' or (byte)'\t' or (byte)'|' or (byte)','
                    ? $" Is the delimiter right? The file seems to use '{(next == (byte)'\t' ? "\\t" : ((char)next).ToString())}' but the contract says '{(char)_delimiter}'."
                    : " Quotes inside a quoted field must be doubled.";
                throw new CsvFormatException(_source, closeLine, $"unexpected text after a closing quote in field {fieldCount}.{hint}");
            }

            var rest = span[pos..];
            var stop = rest.IndexOfAny(_delimiter, Lf);
            if (stop < 0)
            {
                if (!atEof)
                {
                    return CheckLength(span.Length);
                }

                var tail = rest.Length > 0 && rest[^1] == Cr ? rest.Length - 1 : rest.Length;
                AddField(fieldCount++, _start + pos, tail, false);
                return Finish(fieldCount, span.Length, newlines);
            }

            if (rest[stop] == _delimiter)
            {
                AddField(fieldCount++, _start + pos, stop, false);
                pos += stop + 1;
                continue;
            }

            var length = stop > 0 && rest[stop - 1] == Cr ? stop - 1 : stop;
            AddField(fieldCount++, _start + pos, length, false);
            return Finish(fieldCount, pos + stop + 1, newlines + 1, pos + length);
        }
    }

    /// <summary>
    /// Splits a quote-free row ending in a line feed using 32-byte compares: one bit mask each for delimiters,
    /// line feeds and quotes. Returns the field count, or -1 when the row has a quote or is not complete within
    /// whole 32-byte blocks (the scalar paths then take it from its start). <paramref name="consumed"/> counts the
    /// line break; <paramref name="rowEnd"/> is where the row's text ends (before CR LF).
    /// </summary>
    private int TryParsePlainRowVector(ReadOnlySpan<byte> span, out int consumed, out int rowEnd)
    {
        consumed = rowEnd = 0;
        ref var origin = ref MemoryMarshal.GetReference(span);
        var delimiters = Vector256.Create(_delimiter);
        var lineFeeds = Vector256.Create(Lf);
        var quotes = Vector256.Create(Quote);
        var fieldCount = 0;
        var fieldStart = 0;
        for (var offset = 0; offset + 32 <= span.Length; offset += 32)
        {
            var block = Vector256.LoadUnsafe(ref origin, (nuint)offset);
            var lf = Vector256.Equals(block, lineFeeds).ExtractMostSignificantBits();
            var quote = Vector256.Equals(block, quotes).ExtractMostSignificantBits();
            var delimiter = Vector256.Equals(block, delimiters).ExtractMostSignificantBits();
            var before = lf == 0 ? uint.MaxValue : (1u << BitOperations.TrailingZeroCount(lf)) - 1;
            if ((quote & before) != 0)
            {
                return -1;
            }

            delimiter &= before;
            while (delimiter != 0)
            {
                var at = offset + BitOperations.TrailingZeroCount(delimiter);
                AddField(fieldCount++, _start + fieldStart, at - fieldStart, false);
                fieldStart = at + 1;
                delimiter &= delimiter - 1;
            }

            if (lf != 0)
            {
                var lineEnd = offset + BitOperations.TrailingZeroCount(lf);
                var end = lineEnd > 0 && span[lineEnd - 1] == Cr ? lineEnd - 1 : lineEnd;
                AddField(fieldCount++, _start + fieldStart, Math.Max(0, end - fieldStart), false);
                consumed = lineEnd + 1;
                rowEnd = end;
                return fieldCount;
            }
        }

        return -1;
    }

    private ParseResult CheckLength(int pending)
    {
        if (pending >= _maxRowBytes)
        {
            throw RowTooLong(_source, _nextLine, _maxRowBytes);
        }

        return ParseResult.NeedMore;
    }

    private ParseResult Finish(int fieldCount, int consumed, long newlines, int? rowEndInSpan = null, bool isPlain = false)
    {
        RowIsPlain = isPlain;
        FieldCount = fieldCount;
        Line = _nextLine;
        _nextLine += newlines;
        _rowStart = _start;
        _rowEnd = _start + (rowEndInSpan ?? consumed);
        if (_rowEnd - _rowStart > _maxRowBytes)
        {
            throw RowTooLong(_source, Line, _maxRowBytes);
        }

        _start += consumed;
        BytesRead += consumed;
        return ParseResult.Row;
    }

    private void AddField(int index, int start, int length, bool scratch)
    {
        if (index >= _fields.Length)
        {
            Array.Resize(ref _fields, _fields.Length * 2);
        }

        _fields[index] = (start, length, scratch);
    }

    private int Unescape(ReadOnlySpan<byte> content)
    {
        var at = _scratchUsed;
        if (_scratch.Length < at + content.Length)
        {
            Array.Resize(ref _scratch, Math.Max(_scratch.Length * 2, at + content.Length));
        }

        var w = at;
        for (var i = 0; i < content.Length; i++)
        {
            _scratch[w++] = content[i];
            if (content[i] == Quote)
            {
                i++; // skip the second quote of a doubled pair
            }
        }

        _scratchUsed = w;
        return at;
    }

    /// <summary>Moves unconsumed bytes to the front, grows the buffer if one row fills it, and reads more.</summary>
    private bool Fill()
    {
        if (_eof || _stream is null)
        {
            return false;
        }

        var pending = _end - _start;
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, pending);
            _start = 0;
            _end = pending;
        }

        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= _maxRowBytes + 2)
            {
                CheckLength(_buffer.Length);
            }

            Array.Resize(ref _buffer, (int)Math.Min((long)_buffer.Length * 2, _maxRowBytes + 2L));
        }

        var read = _stream.Read(_buffer, _end, _buffer.Length - _end);
        if (read == 0)
        {
            _eof = true;
            return false;
        }

        _end += read;
        return true;
    }
}
