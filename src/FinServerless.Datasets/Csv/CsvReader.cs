using System.Text.Unicode;

namespace FinServerless.Datasets.Csv;

/// <summary>
/// A streaming RFC 4180 reader over UTF-8 bytes: quoted fields with embedded delimiters, quotes and newlines,
/// CRLF or LF, a cap on row length. Fields are exposed as byte spans valid until the next <see cref="ReadRow"/>;
/// memory is bounded by the longest row, whatever the file size.
/// </summary>
public sealed class CsvReader : ICsvRow, IDisposable
{
    private const byte Quote = (byte)'"';
    private const byte Lf = (byte)'\n';
    private const byte Cr = (byte)'\r';

    private readonly Stream _stream;
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

    /// <summary>Creates a reader over an already decoded (decompressed, BOM-free) stream.</summary>
    public CsvReader(Stream stream, byte delimiter, int maxRowBytes, string source, int bufferSize = 1 << 20)
    {
        _stream = stream;
        _delimiter = delimiter;
        _maxRowBytes = maxRowBytes;
        _source = source;
        _buffer = new byte[Math.Max(bufferSize, 4096)];
    }

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
    public bool RowIsValidUtf8 => Utf8.IsValid(RawRow);

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
    public void Dispose() => _stream.Dispose();

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
            return Finish(fieldCount, lineEnd + 1, 1, end);
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
                // Quoted field: find the closing quote, undoing doubled quotes.
                var contentStart = pos + 1;
                var i = contentStart;
                var hasEscapes = false;
                while (true)
                {
                    var rel = span[i..].IndexOf(Quote);
                    if (rel < 0)
                    {
                        if (atEof)
                        {
                            throw new CsvFormatException(_source, _nextLine, "a quoted field is never closed (unterminated quote); the file may be truncated or a quote is missing.");
                        }

                        return CheckLength(span.Length);
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

                var hint = next is (byte)';' or (byte)'\t' or (byte)'|' or (byte)','
                    ? $" Is the delimiter right? The file seems to use '{(next == (byte)'\t' ? "\\t" : ((char)next).ToString())}' but the contract says '{(char)_delimiter}'."
                    : " Quotes inside a quoted field must be doubled.";
                throw new CsvFormatException(_source, _nextLine + newlines, $"unexpected character '{(char)next}' after a closing quote in field {fieldCount}.{hint}");
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

    private ParseResult CheckLength(int pending)
    {
        if (pending >= _maxRowBytes)
        {
            throw new CsvFormatException(_source, _nextLine, $"a row is longer than the limit of {_maxRowBytes:N0} bytes (file.maxLineBytes); the file may lack line breaks, use another delimiter, or have an unterminated quote.");
        }

        return ParseResult.NeedMore;
    }

    private ParseResult Finish(int fieldCount, int consumed, long newlines, int? rowEndInSpan = null)
    {
        FieldCount = fieldCount;
        Line = _nextLine;
        _nextLine += newlines;
        _rowStart = _start;
        _rowEnd = _start + (rowEndInSpan ?? consumed);
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
        if (_eof)
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
