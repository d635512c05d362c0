using System.Text;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Csv;
using FinServerless.Datasets.Validation;

namespace FinServerless.Datasets.Profiling;

/// <summary>Profiles the feature and target columns of accepted rows, and measures drift against a reference profile.</summary>
public sealed class DatasetProfiler
{
    private readonly RowProcessor _processor;
    private readonly (int Column, ColumnProfiler Profiler, bool Categorical)[] _columns;
    private readonly DatasetProfile? _reference;
    private long _rows;

    // Numeric values wait here, per column, and reach their profiler a few thousand at a time (a tight loop
    // instead of a call per value). Build, Merge and drift flush them first.
    private const int Pending = 4096;
    private readonly double[][] _pending;
    private readonly int[] _pendingCount;

    /// <summary>Creates a profiler; with <paramref name="reference"/>, drift is measured in the reference's bins.</summary>
    public DatasetProfiler(RowProcessor processor, DatasetProfile? reference)
    {
        _processor = processor;
        _reference = reference;
        var contract = processor.Contract;
        _columns = Enumerable.Range(0, contract.Columns.Count)
            .Where(i => contract.Columns[i].Role is ColumnRole.Feature or ColumnRole.Target)
            .Select(i =>
            {
                var spec = contract.Columns[i];
                // A mapped target is profiled as its 0/1 label, not as the file's status text.
                var categorical = spec.Type is ColumnType.Category or ColumnType.String && spec.TargetValues is null;
                var name = spec.EffectiveOutputName;
                return (i, new ColumnProfiler(name, spec.Type.ToString().ToLowerInvariant(), categorical, reference?[name]?.Histogram, seed: 17 + i), categorical);
            })
            .ToArray();
        _pending = _columns.Select(c => c.Categorical ? [] : new double[Pending]).ToArray();
        _pendingCount = new int[_columns.Length];
    }

    /// <summary>Adds the processor's current (accepted) row.</summary>
    public void Add(CsvReader row)
    {
        _rows++;
        var states = _processor.States;
        var numbers = _processor.Numbers;
        var columns = _columns;
        for (var i = 0; i < columns.Length; i++)
        {
            var (c, profiler, categorical) = columns[i];
            switch (states[c])
            {
                case CellState.Missing:
                    profiler.AddMissing();
                    break;
                case CellState.Special:
                    profiler.AddSpecial();
                    break;
                default:
                    if (categorical)
                    {
                        var spec = _processor.Contract.Columns[c];
                        // PII text is counted, never recorded; other text is profiled as curated (neutralized).
                        profiler.AddCategory(spec.Pii ? "[pii]"
                            : _processor.Neutralized[c] ? Ingest.SpreadsheetSafe.Prefix + Encoding.UTF8.GetString(row[_processor.Position(c)])
                            : Encoding.UTF8.GetString(row[_processor.Position(c)]));
                    }
                    else
                    {
                        var pending = _pending[i];
                        pending[_pendingCount[i]++] = numbers[c];
                        if (_pendingCount[i] == pending.Length)
                        {
                            Flush(i);
                        }
                    }

                    break;
            }
        }
    }

    private void Flush(int i)
    {
        _columns[i].Profiler.AddRange(_pending[i].AsSpan(0, _pendingCount[i]));
        _pendingCount[i] = 0;
    }

    private void FlushAll()
    {
        for (var i = 0; i < _columns.Length; i++)
        {
            Flush(i);
        }
    }

    /// <summary>Folds another profiler of the same contract (another worker's rows) into this one.</summary>
    public void Merge(DatasetProfiler other)
    {
        FlushAll();
        other.FlushAll();
        _rows += other._rows;
        for (var i = 0; i < _columns.Length; i++)
        {
            _columns[i].Profiler.Merge(other._columns[i].Profiler);
        }
    }

    /// <summary>The profile of everything added.</summary>
    public DatasetProfile Build()
    {
        FlushAll();
        return new(_rows, _columns.Select(c => c.Profiler.Build()).ToList());
    }

    /// <summary>Drift per feature against the reference (empty without one).</summary>
    public IReadOnlyList<FeatureDrift> DriftAgainstReference(DatasetProfile current)
    {
        if (_reference is null)
        {
            return [];
        }

        FlushAll();
        var result = new List<FeatureDrift>();
        foreach (var (c, profiler, categorical) in _columns)
        {
            if (_processor.Contract.Columns[c].Role != ColumnRole.Feature)
            {
                continue;
            }

            var name = _processor.Contract.Columns[c].EffectiveOutputName;
            var reference = _reference[name];
            var now = current[name];
            if (reference is null || now is null)
            {
                continue;
            }

            if (categorical && reference.Categories is not null)
            {
                result.Add(Drift.Categorical(reference, now));
            }
            else if (!categorical && reference.Histogram is not null && profiler.ReferenceBinCounts is { } counts)
            {
                result.Add(Drift.Numeric(reference, counts, now.Nulls));
            }
        }

        return result;
    }
}
