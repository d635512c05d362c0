using System.Globalization;
using System.Text;

namespace FinServerless.Datasets.Output;

/// <summary>Writes CSV rows as UTF-8 into a growable buffer: RFC 4180 quoting, invariant numbers, LF line ends.</summary>
public sealed class Utf8CsvWriter(int initialCapacity = 1 << 20)
{
    private byte[] _buffer = new byte[Math.Max(initialCapacity, 256)];
    private int _length;
    private bool _rowStarted;

    /// <summary>Bytes written so far.</summary>
    public int Length => _length;

    /// <summary>The written bytes.</summary>
    public ReadOnlyMemory<byte> Written => _buffer.AsMemory(0, _length);

    /// <summary>Forgets what was written (keeps the memory).</summary>
    public void Clear()
    {
        _length = 0;
        _rowStarted = false;
    }

    /// <summary>Writes a field given as UTF-8 bytes, quoting it when needed.</summary>
    public void Field(ReadOnlySpan<byte> value)
    {
        if (value.IndexOfAny((byte)',', (byte)'"', (byte)'\n') < 0 && value.IndexOf((byte)'\r') < 0)
        {
            SafeField(value);
            return;
        }

        Separator();
        Ensure((value.Length * 2) + 2);
        var span = _buffer.AsSpan(_length);
        var w = 0;
        span[w++] = (byte)'"';
        foreach (var b in value)
        {
            if (b == (byte)'"')
            {
                span[w++] = (byte)'"';
            }

            span[w++] = b;
        }

        span[w++] = (byte)'"';
        _length += w;
    }

    /// <summary>Writes <paramref name="prefix"/> (a byte that needs no quoting) and then <paramref name="value"/> as one field, quoting it when needed.</summary>
    public void Field(byte prefix, ReadOnlySpan<byte> value)
    {
        var quoted = value.IndexOfAny((byte)',', (byte)'"', (byte)'\n') >= 0 || value.IndexOf((byte)'\r') >= 0;
        Separator();
        Ensure((value.Length * 2) + 3);
        var span = _buffer.AsSpan(_length);
        var w = 0;
        if (quoted)
        {
            span[w++] = (byte)'"';
        }

        span[w++] = prefix;
        foreach (var b in value)
        {
            if (b == (byte)'"')
            {
                span[w++] = (byte)'"';
            }

            span[w++] = b;
        }

        if (quoted)
        {
            span[w++] = (byte)'"';
        }

        _length += w;
    }

    /// <summary>Writes bytes the caller knows need no quoting (numbers, for example).</summary>
    public void SafeField(ReadOnlySpan<byte> value)
    {
        Ensure(value.Length + 1);
        if (_rowStarted)
        {
            _buffer[_length++] = (byte)',';
        }

        _rowStarted = true;
        value.CopyTo(_buffer.AsSpan(_length));
        _length += value.Length;
    }

    /// <summary>Appends bytes that are already whole CSV rows (another writer's output).</summary>
    public void AppendRows(ReadOnlySpan<byte> rows)
    {
        Ensure(rows.Length);
        rows.CopyTo(_buffer.AsSpan(_length));
        _length += rows.Length;
    }

    /// <summary>Marks the current row as started (after <see cref="AppendRows"/> of a partial row), so the next field gets a separator.</summary>
    public void ContinueRow() => _rowStarted = true;

    /// <summary>Ends a row's fields without writing a newline (for buffers of id fields kept per row).</summary>
    public void StartNewRowWithoutNewline() => _rowStarted = false;

    /// <summary>Writes a text field.</summary>
    public void Field(string value) => Field(Encoding.UTF8.GetBytes(value));

    /// <summary>Writes an empty field (a missing value).</summary>
    public void Empty() => Separator();

    /// <summary>Writes a number in its shortest round-trip invariant form.</summary>
    public void Field(double value)
    {
        Separator();
        Ensure(32);
        if (!value.TryFormat(_buffer.AsSpan(_length), out var written, default, CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"Could not format {value}.");
        }

        _length += written;
    }

    /// <summary>Writes a float in its shortest round-trip invariant form.</summary>
    public void Field(float value)
    {
        Separator();
        Ensure(24);
        value.TryFormat(_buffer.AsSpan(_length), out var written, default, CultureInfo.InvariantCulture);
        _length += written;
    }

    /// <summary>Writes an integer.</summary>
    public void Field(long value)
    {
        Separator();
        Ensure(24);
        value.TryFormat(_buffer.AsSpan(_length), out var written, default, CultureInfo.InvariantCulture);
        _length += written;
    }

    /// <summary>Ends the row.</summary>
    public void EndRow()
    {
        Ensure(1);
        _buffer[_length++] = (byte)'\n';
        _rowStarted = false;
    }

    private void Separator()
    {
        Ensure(1);
        if (_rowStarted)
        {
            _buffer[_length++] = (byte)',';
        }

        _rowStarted = true;
    }

    private void Ensure(int extra)
    {
        if (_length + extra > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + extra));
        }
    }
}
