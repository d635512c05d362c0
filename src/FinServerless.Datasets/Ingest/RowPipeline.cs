using System.Text;
using System.Threading.Channels;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Csv;
using FinServerless.Datasets.Output;
using FinServerless.Datasets.Profiling;
using FinServerless.Datasets.Validation;

namespace FinServerless.Datasets.Ingest;

/// <summary>
/// Parallel parsing and validation: one thread reads the input and cuts it into blocks of whole rows; workers
/// parse, validate, normalize, format and profile them (block k goes to worker k mod N, so profiles are
/// reproducible), and the caller receives the blocks back in file order, with their rows numbered. A problem
/// with the file itself (a malformed row, a row over the limit, corrupt compression) travels in its block, so
/// the first one in file order is the one reported. Memory is bounded by a fixed pool of blocks.
/// </summary>
internal sealed class RowPipeline
{
    private readonly DatasetContract _contract;
    private readonly Worker[] _workers;
    private readonly int _blockBytes;

    public RowPipeline(DatasetContract contract, HeaderMap map, DatasetProfile? reference, int workers, int blockBytes)
    {
        _contract = contract;
        _blockBytes = blockBytes;
        var count = Math.Max(1, workers);
        var idSeed = (ulong)Random.Shared.NextInt64();
        _workers = Enumerable.Range(0, count).Select(_ => new Worker(contract, map, reference, idSeed, IdColumnTracker.MaxTracked / count)).ToArray();
    }

    /// <summary>Output column names.</summary>
    public IReadOnlyList<string> Header => _workers[0].Formatter.Header;

    /// <summary>Writes the curated header row.</summary>
    public void WriteHeader(Utf8CsvWriter writer) => _workers[0].Formatter.WriteHeader(writer);

    /// <summary>Reads every row and hands each processed block, in order, to <paramref name="onBlock"/>.</summary>
    public async Task RunAsync(RowChunker chunker, string source, Func<RowBlock, Task> onBlock, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var free = Channel.CreateUnbounded<RowBlock>();
        for (var i = 0; i < (_workers.Length * 2) + 2; i++)
        {
            free.Writer.TryWrite(new RowBlock(_blockBytes));
        }

        var inputs = _workers.Select(_ => Channel.CreateBounded<RowBlock>(2)).ToArray();
        var results = Channel.CreateUnbounded<RowBlock>();
        var producer = Task.Run(() => ProduceAsync(chunker, free, inputs, stop.Token), stop.Token);
        var workers = _workers.Select((w, i) => Task.Run(() => w.RunAsync(inputs[i].Reader, results.Writer, source, stop.Token), stop.Token)).ToArray();
        _ = Task.WhenAll(workers).ContinueWith(_ => results.Writer.TryComplete(), TaskScheduler.Default);

        try
        {
            var pending = new Dictionary<long, RowBlock>();
            long next = 0;
            long rowNumber = 1;
            await foreach (var block in results.Reader.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                pending[block.Sequence] = block;
                while (pending.Remove(next, out var ready))
                {
                    if (ready.Error is { } error)
                    {
                        System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(error).Throw();
                    }

                    for (var i = 0; i < ready.Rejected.Count; i++)
                    {
                        ready.Rejected[i] = ready.Rejected[i] with { Row = ready.Rejected[i].Row + rowNumber };
                    }

                    rowNumber += ready.Count;
                    await onBlock(ready).ConfigureAwait(false);
                    free.Writer.TryWrite(ready);
                    next++;
                }
            }
        }
        catch
        {
            // Stop the reader and the workers before the caller touches the input again (to hash the rest).
            stop.Cancel();
            try
            {
                await Task.WhenAll(workers.Append(producer)).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Cancellation, or a failure behind the one being thrown.
            }

            throw;
        }

        // Surface what stopped a worker or the reader, as it was thrown.
        await producer.ConfigureAwait(false);
        await Task.WhenAll(workers).ConfigureAwait(false);
    }

    /// <summary>Per output column, curated cells written neutralized (columns with none left out).</summary>
    public SortedDictionary<string, long> NeutralizedCells()
    {
        var cells = new SortedDictionary<string, long>(StringComparer.Ordinal);
        for (var c = 0; c < _contract.Columns.Count; c++)
        {
            var count = _workers.Sum(w => w.Formatter.NeutralizedCells[c]);
            if (count > 0)
            {
                cells[_contract.Columns[c].EffectiveOutputName] = count;
            }
        }

        return cells;
    }

    /// <summary>Blank and repeated ids per id column over all accepted rows, merged from the workers'.</summary>
    public IReadOnlyList<IdColumnCheck> IdChecks()
    {
        var merged = _workers[0].Ids;
        foreach (var w in _workers.Skip(1))
        {
            merged.Merge(w.Ids);
        }

        return merged.Checks();
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

    private static async Task ProduceAsync(RowChunker chunker, Channel<RowBlock> free, Channel<RowBlock>[] inputs, CancellationToken cancellationToken)
    {
        try
        {
            for (long sequence = 0; ; sequence++)
            {
                var block = await free.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                block.Reset(sequence);
                bool more;
                try
                {
                    more = chunker.Next(block);
                }
                catch (Exception ex) when (ex is CsvFormatException or InvalidDataException or EndOfStreamException or FileRejectedException)
                {
                    // A verdict on the file: it goes in order, behind the rows before it.
                    block.Error = ex;
                    more = true;
                }

                if (!more)
                {
                    return;
                }

                await inputs[sequence % inputs.Length].Writer.WriteAsync(block, cancellationToken).ConfigureAwait(false);
                if (block.Error is not null)
                {
                    return;
                }
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

        public Worker(DatasetContract contract, HeaderMap map, DatasetProfile? reference, ulong idSeed, int idBudget)
        {
            _contract = contract;
            _processor = new RowProcessor(contract, map);
            Formatter = new CuratedRowFormatter(_processor);
            Profiler = new DatasetProfiler(_processor, reference);
            Ids = new IdColumnTracker(contract, _processor, idSeed, idBudget);
            _idColumns = Enumerable.Range(0, contract.Columns.Count).Where(i => contract.Columns[i].Role == ColumnRole.Id && !contract.Columns[i].Pii && _processor.Position(i) >= 0).ToArray();
        }

        public CuratedRowFormatter Formatter { get; }

        public DatasetProfiler Profiler { get; }

        public IdColumnTracker Ids { get; }

        public async Task RunAsync(ChannelReader<RowBlock> input, ChannelWriter<RowBlock> output, string source, CancellationToken cancellationToken)
        {
            var row = new CsvReader((byte)_contract.File.Delimiter[0], _contract.File.MaxLineBytes, source);
            await foreach (var block in input.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                if (block.Error is null)
                {
                    Process(block, row);
                }

                await output.WriteAsync(block, cancellationToken).ConfigureAwait(false);
            }
        }

        private void Process(RowBlock block, CsvReader row)
        {
            row.Reset(block.Buffer, block.Length, block.FirstLine);
            var curated = block.Curated;
            try
            {
                var index = 0;
                while (row.ReadRow())
                {
                    if (_processor.Process(row))
                    {
                        block.Accepted++;
                        Formatter.WriteRow(curated, row);
                        Profiler.Add(row);
                        Ids.Add(row);
                    }
                    else
                    {
                        block.Rejected.Add(Describe(row, index));
                    }

                    index++;
                }

                block.Count = index;
            }
            catch (CsvFormatException ex)
            {
                block.Error = ex;
            }
        }

        private RejectedRow Describe(CsvReader row, long rowNumber)
        {
            var cells = new List<RejectedCell>(_processor.Failures.Count);
            foreach (var f in _processor.Failures)
            {
                var column = f.ColumnIndex >= 0 ? _contract.Columns[f.ColumnIndex].Name : string.Empty;
                cells.Add(new RejectedCell(column, f.Rule, f.Detail, f.ColumnIndex >= 0 ? CellForReport(row, f.ColumnIndex) : string.Empty));
            }

            // Ids name the row in the report; an id column flagged PII is left out (rejected.csv masks it).
            var ids = new Dictionary<string, string>();
            if (row.FieldCount == _processor.ExpectedFieldCount)
            {
                foreach (var c in _idColumns)
                {
                    ids[_contract.Columns[c].EffectiveOutputName] = SpreadsheetSafe.Neutralize(Truncate(Encoding.UTF8.GetString(row[_processor.Position(c)])));
                }
            }

            return new RejectedRow(rowNumber, row.Line, ids, cells);
        }

        private string CellForReport(CsvReader row, int column)
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
