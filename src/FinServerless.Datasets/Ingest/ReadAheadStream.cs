using System.Threading.Channels;
using FinServerless.Storage;

namespace FinServerless.Datasets.Ingest;

/// <summary>
/// Reads a source stream on a background thread into a few fixed chunks, so that I/O, hashing and
/// decompression (whatever the source does) overlap with parsing. Memory: depth × chunk size.
/// </summary>
internal sealed class ReadAheadStream : ReadOnlyStream
{
    private readonly Channel<(byte[] Buffer, int Length, Exception? Error)> _full;
    private readonly Channel<byte[]> _empty;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _pump;
    private byte[]? _current;
    private int _currentLength;
    private int _currentPos;
    private bool _done;

    public ReadAheadStream(Stream source, int chunkSize = 1 << 20, int depth = 4)
    {
        _full = Channel.CreateBounded<(byte[], int, Exception?)>(depth);
        _empty = Channel.CreateUnbounded<byte[]>();
        for (var i = 0; i < depth + 1; i++)
        {
            _empty.Writer.TryWrite(new byte[chunkSize]);
        }

        _pump = Task.Run(() => PumpAsync(source));
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        while (true)
        {
            if (_current is not null && _currentPos < _currentLength)
            {
                var n = Math.Min(buffer.Length, _currentLength - _currentPos);
                _current.AsSpan(_currentPos, n).CopyTo(buffer);
                _currentPos += n;
                return n;
            }

            if (_done)
            {
                return 0;
            }

            if (_current is not null)
            {
                _empty.Writer.TryWrite(_current);
                _current = null;
            }

            if (!_full.Reader.TryRead(out var next))
            {
                next = _full.Reader.ReadAsync().AsTask().GetAwaiter().GetResult();
            }

            if (next.Error is not null)
            {
                _done = true;
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(next.Error).Throw();
            }

            if (next.Length == 0)
            {
                _done = true;
                return 0;
            }

            (_current, _currentLength, _currentPos) = (next.Buffer, next.Length, 0);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _stop.Cancel();
            while (_full.Reader.TryRead(out _))
            {
            }

            try
            {
                _pump.Wait(TimeSpan.FromSeconds(5));
            }
            catch (AggregateException)
            {
            }

            _stop.Dispose();
        }

        base.Dispose(disposing);
    }

    private async Task PumpAsync(Stream source)
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var buffer = await _empty.Reader.ReadAsync(_stop.Token).ConfigureAwait(false);
                var filled = 0;
                while (filled < buffer.Length)
                {
                    var n = source.Read(buffer, filled, buffer.Length - filled);
                    if (n == 0)
                    {
                        break;
                    }

                    filled += n;
                }

                await _full.Writer.WriteAsync((buffer, filled, null), _stop.Token).ConfigureAwait(false);
                if (filled == 0)
                {
                    return;
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            _full.Writer.TryWrite((Array.Empty<byte>(), 0, ex));
        }
    }
}
