using System.Text;
using System.Threading.Channels;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Csv;
using FinServerless.Datasets.Output;
using FinServerless.Datasets.Profiling;
using FinServerless.Datasets.Validation;

namespace FinServerless.Datasets.Ingest;

/// <summary>
/// Parallel validation: one thread reads rows into batches, workers validate, normalize and format them
/// (batch k goes to worker k mod N, so profiles are reproducible), and the caller receives the batches back
/// in file order. Memory is bounded by a fixed pool of batches.
/// </summary>
internal sealed class RowPipeline
{
    private const int BatchRows = 8_192;

    private readonly DatasetContract _contract;
    private readonly HeaderMap _map;
    private readonly Worker[] _workers;

    public RowPipeline(DatasetContract contract, HeaderMap map, DatasetProfile? reference, int workers)
    {
        _contract = contract;
        _map = map;
        _workers = Enumerable.Range(0, Math.Max(1, workers)).Select(_ => new Worker(contract, map, reference)).ToArray();
    }

    /// <summary>Output column names.</summary>
    public IReadOnlyList<string> Header => _workers[0].Formatter.Header;

    /// <summary>Writes the curated header row.</summary>
    public void WriteHeader(Utf8CsvWriter writer) => _workers[0].Formatter.WriteHeader(writer);

    /// <summary>Reads every row and hands each processed batch, in order, to <paramref name="onBatch"/>.</summary>
    public async Task RunAsync(CsvReader reader, Func<RowBatch, Task> onBatch, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var free = Channel.CreateUnbounded<RowBatch>();
        for (var i = 0; i < (_workers.Length * 2) + 2; i++)
        {
            free.Writer.TryWrite(new RowBatch(BatchRows));
        }

        var inputs = _workers.Select(_ => Channel.CreateBounded<RowBatch>(2)).ToArray();
        var results = Channel.CreateUnbounded<RowBatch>();
        var producer = Task.Run(() => ProduceAsync(reader, free, inputs, stop.Token), stop.Token);
        var workers = _workers.Select((w, i) => Task.Run(() => w.RunAsync(inputs[i].Reader, results.Writer, stop.Token), stop.Token)).ToArray();
        _ = Task.WhenAll(workers).ContinueWith(_ => results.Writer.TryComplete(), TaskScheduler.Default);

        try
        {
            var pending = new Dictionary<long, RowBatch>();
            long next = 0;
            await foreach (var batch in results.Reader.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                pending[batch.Sequence] = batch;
                while (pending.Remove(next, out var ready))
                {
                    await onBatch(ready).ConfigureAwait(false);
                    free.Writer.TryWrite(ready);
                    next++;
                }
            }
        }
        catch
        {
            stop.Cancel();
            throw;
        }

        // Surface what stopped the reader (a malformed row, a truncated gzip) or a worker, as it was thrown.
        await producer.ConfigureAwait(false);
        await Task.WhenAll(workers).ConfigureAwait(false);
    }

    /// <summary>The profile of all rows, merged from the workers' in a fixed order.</summary>
    public DatasetProfiler MergedProfiler()
    {
        var merged = _workers[0].Profiler;
        foreach (var w in _workers.Skip(1))
        {
            merged.Merge(w.Profiler);
        }

        return merged;
    }

    private static async Task ProduceAsync(CsvReader reader, Channel<RowBatch> free, Channel<RowBatch>[] inputs, CancellationToken cancellationToken)
    {
        try
        {
            long sequence = 0;
            long row = 1;
            var batch = await free.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            batch.Reset(sequence, row);
            while (reader.ReadRow())
            {
                batch.Add(reader);
                row++;
                if (batch.IsFull)
                {
                    await inputs[sequence % inputs.Length].Writer.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
                    sequence++;
                    batch = await free.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                    batch.Reset(sequence, row);
                }
            }

            if (batch.Count > 0)
            {
                await inputs[sequence % inputs.Length].Writer.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            foreach (var input in inputs)
            {
                input.Writer.TryComplete();
            }
        }
    }

    /// <summary>One worker's validator, formatter and profiler (none of them thread-safe, so one set each).</summary>
    private sealed class Worker
    {
        private readonly DatasetContract _contract;
        private readonly RowProcessor _processor;
        private readonly int[] _idColumns;

        public Worker(DatasetContract contract, HeaderMap map, DatasetProfile? reference)
        {
            _contract = contract;
            _processor = new RowProcessor(contract, map);
            Formatter = new CuratedRowFormatter(_processor);
            Profiler = new DatasetProfiler(_processor, reference);
            _idColumns = Enumerable.Range(0, contract.Columns.Count).Where(i => contract.Columns[i].Role == ColumnRole.Id && _processor.Position(i) >= 0).ToArray();
        }

        public CuratedRowFormatter Formatter { get; }

        public DatasetProfiler Profiler { get; }

        public async Task RunAsync(ChannelReader<RowBatch> input, ChannelWriter<RowBatch> output, CancellationToken cancellationToken)
        {
            var view = new RowBatch.View();
            await foreach (var batch in input.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                for (var i = 0; i < batch.Count; i++)
                {
                    var row = batch.Row(view, i);
                    if (_processor.Process(row))
                    {
                        batch.Accepted++;
                        Formatter.WriteRow(batch.Curated, row);
                        Profiler.Add(row);
                    }
                    else
                    {
                        batch.Rejected.Add(Describe(row, batch.FirstRowNumber + i));
                    }
                }

                await output.WriteAsync(batch, cancellationToken).ConfigureAwait(false);
            }
        }

        private RejectedRow Describe(ICsvRow row, long rowNumber)
        {
            var cells = new List<RejectedCell>(_processor.Failures.Count);
            foreach (var f in _processor.Failures)
            {
                var column = f.ColumnIndex >= 0 ? _contract.Columns[f.ColumnIndex].Name : string.Empty;
                cells.Add(new RejectedCell(column, f.Rule, f.Detail, f.ColumnIndex >= 0 ? CellForReport(row, f.ColumnIndex) : string.Empty));
            }

            var ids = new Dictionary<string, string>();
            if (row.FieldCount == _processor.ExpectedFieldCount)
            {
                foreach (var c in _idColumns)
                {
                    ids[_contract.Columns[c].EffectiveOutputName] = _contract.Columns[c].Pii ? "[pii]" : Truncate(Encoding.UTF8.GetString(row[_processor.Position(c)]));
                }
            }

            return new RejectedRow(rowNumber, row.Line, ids, cells);
        }

        private string CellForReport(ICsvRow row, int column)
        {
            if (_contract.Columns[column].Pii)
            {
                return "[pii]";
            }

            var position = _processor.Position(column);
            return position < 0 ? string.Empty : SpreadsheetSafe.Neutralize(Truncate(Encoding.UTF8.GetString(row[position])));
        }

        private static string Truncate(string value) => value.Length <= 256 ? value : value[..256] + "…";
    }
}
