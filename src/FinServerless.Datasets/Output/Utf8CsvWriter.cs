using System.Buffers;
using System.Globalization;
using System.Text;

namespace FinServerless.Datasets.Output;

/// <summary>Writes CSV rows as UTF-8 into a growable buffer: RFC 4180 quoting, invariant numbers, LF line ends.</summary>
public sealed class Utf8CsvWriter(int initialCapacity = 1 << 20)
{
    private readonly ArrayBufferWriter<byte> _buffer = new(initialCapacity);
    private bool _rowStarted;

    /// <summary>Bytes written so far.</summary>
    public int Length => _buffer.WrittenCount;

    /// <summary>The written bytes.</summary>
    public ReadOnlyMemory<byte> Written => _buffer.WrittenMemory;

    /// <summary>Forgets what was written (keeps the memory).</summary>
    public void Clear()
    {
        _buffer.ResetWrittenCount();
        _rowStarted = false;
    }

    /// <summary>Writes a field given as UTF-8 bytes, quoting it when needed.</summary>
    public void Field(ReadOnlySpan<byte> value)
    {
        Separator();
        if (value.IndexOfAny((byte)',', (byte)'"', (byte)'\n') < 0 && value.IndexOf((byte)'\r') < 0)
        {
            value.CopyTo(_buffer.GetSpan(value.Length));
            _buffer.Advance(value.Length);
            return;
        }

        var span = _buffer.GetSpan((value.Length * 2) + 2);
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
        _buffer.Advance(w);
    }

    /// <summary>Writes a text field.</summary>
    public void Field(string value)
    {
        var bytes = Encoding.UTF8.GetBytes(value);
        Field(bytes);
    }

    /// <summary>Writes an empty field (a missing value).</summary>
    public void Empty() => Separator();

    /// <summary>Writes a number in its shortest round-trip invariant form.</summary>
    public void Field(double value)
    {
        Separator();
        var span = _buffer.GetSpan(32);
        if (!value.TryFormat(span, out var written, default, CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException($"Could not format {value}.");
        }

        _buffer.Advance(written);
    }

    /// <summary>Writes an integer.</summary>
    public void Field(long value)
    {
        Separator();
        var span = _buffer.GetSpan(24);
        value.TryFormat(span, out var written, default, CultureInfo.InvariantCulture);
        _buffer.Advance(written);
    }

    /// <summary>Ends the row.</summary>
    public void EndRow()
    {
        _buffer.GetSpan(1)[0] = (byte)'\n';
        _buffer.Advance(1);
        _rowStarted = false;
    }

    private void Separator()
    {
        if (_rowStarted)
        {
            _buffer.GetSpan(1)[0] = (byte)',';
            _buffer.Advance(1);
        }

        _rowStarted = true;
    }
}
