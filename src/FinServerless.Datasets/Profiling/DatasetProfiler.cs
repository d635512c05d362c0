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
                var categorical = spec.Type is ColumnType.Category or ColumnType.String;
                var name = spec.EffectiveOutputName;
                return (i, new ColumnProfiler(name, spec.Type.ToString().ToLowerInvariant(), categorical, reference?[name]?.Histogram, seed: 17 + i), categorical);
            })
            .ToArray();
    }

    /// <summary>Adds the processor's current (accepted) row.</summary>
    public void Add(CsvReader row)
    {
        _rows++;
        foreach (var (c, profiler, categorical) in _columns)
        {
            switch (_processor.States[c])
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
                        // PII text is counted, never recorded.
                        profiler.AddCategory(spec.Pii ? "[pii]" : Encoding.UTF8.GetString(row[_processor.Position(c)]));
                    }
                    else
                    {
                        profiler.Add(_processor.Numbers[c]);
                    }

                    break;
            }
        }
    }

    /// <summary>Folds another profiler of the same contract (another worker's rows) into this one.</summary>
    public void Merge(DatasetProfiler other)
    {
        _rows += other._rows;
        for (var i = 0; i < _columns.Length; i++)
        {
            _columns[i].Profiler.Merge(other._columns[i].Profiler);
        }
    }

    /// <summary>The profile of everything added.</summary>
    public DatasetProfile Build() => new(_rows, _columns.Select(c => c.Profiler.Build()).ToList());

    /// <summary>Drift per feature against the reference (empty without one).</summary>
    public IReadOnlyList<FeatureDrift> DriftAgainstReference(DatasetProfile current)
    {
        if (_reference is null)
        {
            return [];
        }

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
