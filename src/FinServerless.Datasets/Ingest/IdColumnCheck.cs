using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Csv;
using FinServerless.Datasets.Validation;

namespace FinServerless.Datasets.Ingest;

/// <summary>
/// What ingest found about an id column of the accepted rows: how many were blank and how many repeated an id seen
/// earlier in the file. Counts only: no id value is ever kept in a report.
/// </summary>
/// <param name="Column">The id column (its curated name).</param>
/// <param name="Blank">Accepted rows whose id is empty.</param>
/// <param name="Repeated">Accepted rows whose id repeats one seen before in the file (among the ids checked).</param>
/// <param name="Checked">Ids checked for repeats; fewer than the rows when the file has more than <see cref="IdColumnTracker.MaxTracked"/>.</param>
public sealed record IdColumnCheck(string Column, long Blank, long Repeated, long Checked)
{
    /// <summary>The warning this check makes, or null when the ids are all present and distinct.</summary>
    public string? Warning(long rows) =>
        Blank == 0 && Repeated == 0 ? null
        : $"id column '{Column}': {(Blank > 0 ? $"{Blank:N0} blank" : string.Empty)}{(Blank > 0 && Repeated > 0 ? ", " : string.Empty)}{(Repeated > 0 ? $"{Repeated:N0} repeated" : string.Empty)} of {rows:N0} accepted rows{(Checked < rows - Blank ? $" (repeats looked for among the first {Checked:N0} ids)" : string.Empty)}; scores are keyed by id, so rows sharing an id cannot be told apart";
}

/// <summary>
/// Counts blank and repeated ids per id column while ingest's workers process rows; each worker has its own tracker
/// and <see cref="Merge"/> joins them. Ids are kept as 64-bit hashes keyed by a random seed per file (no values,
/// and no collisions an input could be built to cause), at most <see cref="MaxTracked"/> per column in all.
/// </summary>
internal sealed class IdColumnTracker
{
    /// <summary>
    /// The most ids per column looked at for repeats (2^18): measured on 5M rows, about 12 MiB more peak memory and no
    /// measurable time, so ingest's memory stays flat; a file with more ids says so in its warning.
    /// </summary>
    public const int MaxTracked = 262_144;

    private readonly int[] _positions;
    private readonly string[] _names;
    private readonly ulong _seed;
    private readonly int _budget;
    private readonly IdHashes[] _seen;
    private readonly long[] _blank;
    private readonly long[] _repeated;
    private readonly long[] _checked;

    public IdColumnTracker(DatasetContract contract, RowProcessor processor, ulong seed, int budget)
    {
        int[] columns = [.. Enumerable.Range(0, contract.Columns.Count).Where(i => contract.Columns[i].Role == ColumnRole.Id && processor.Position(i) >= 0)];
        _names = [.. columns.Select(i => contract.Columns[i].EffectiveOutputName)];
        _positions = [.. columns.Select(processor.Position)];
        _seed = seed;
        _budget = budget;
        _seen = [.. columns.Select(_ => new IdHashes())];
        _blank = new long[columns.Length];
        _repeated = new long[columns.Length];
        _checked = new long[columns.Length];
    }

    /// <summary>Looks at an accepted row's ids.</summary>
    public void Add(CsvReader row)
    {
        if (_full)
        {
            return;
        }

        var full = true;
        for (var k = 0; k < _positions.Length; k++)
        {
            var cell = row[_positions[k]];
            if (cell.IsEmpty)
            {
                _blank[k]++;
            }
            else if (_seen[k].Count < _budget)
            {
                _checked[k]++;
                if (!_seen[k].Add(Hash(cell)))
                {
                    _repeated[k]++;
                }
            }

            full &= _seen[k].Count >= _budget;
        }

        _full = full;
    }

    private bool _full;

    /// <summary>Joins another worker's counts into these (ids seen by both count as repeats).</summary>
    public void Merge(IdColumnTracker other)
    {
        for (var k = 0; k < _positions.Length; k++)
        {
            _blank[k] += other._blank[k];
            _repeated[k] += other._repeated[k];
            var skipped = 0L;
            foreach (var hash in other._seen[k].Items())
            {
                if (_seen[k].Count >= MaxTracked)
                {
                    skipped++;
                }
                else if (!_seen[k].Add(hash))
                {
                    _repeated[k]++;
                }
            }

            _checked[k] += other._checked[k] - skipped;
        }
    }

    /// <summary>The checks, one per id column.</summary>
    public IReadOnlyList<IdColumnCheck> Checks() => [.. _names.Select((name, k) => new IdColumnCheck(name, _blank[k], _repeated[k], _checked[k]))];

    private ulong Hash(ReadOnlySpan<byte> value)
    {
        // FNV-1a over the bytes from a random per-file basis, then a 64-bit finalizer (splitmix64).
        var h = 14695981039346656037UL ^ _seed;
        foreach (var b in value)
        {
            h = (h ^ b) * 1099511628211UL;
        }

        h ^= h >> 30;
        h *= 0xbf58476d1ce4e5b9UL;
        h ^= h >> 27;
        h *= 0x94d049bb133111ebUL;
        return h ^ (h >> 31);
    }
}

/// <summary>
/// A set of 64-bit id hashes in one open-addressing array (8 bytes a slot, at most half full), grown by doubling:
/// a third of what a HashSet of the same ids holds, so ingest's memory stays flat.
/// </summary>
internal sealed class IdHashes
{
    private ulong[] _slots = new ulong[1024];

    /// <summary>Hashes held.</summary>
    public int Count { get; private set; }

    /// <summary>Adds a hash; false when it was there already.</summary>
    public bool Add(ulong hash)
    {
        if ((Count + 1) * 2 > _slots.Length)
        {
            var old = _slots;
            _slots = new ulong[old.Length * 2];
            Count = 0;
            foreach (var h in old)
            {
                if (h != 0)
                {
                    Insert(h);
                }
            }
        }

        return Insert(hash == 0 ? 1 : hash);
    }

    /// <summary>Every hash held.</summary>
    public IEnumerable<ulong> Items()
    {
        foreach (var h in _slots)
        {
            if (h != 0)
            {
                yield return h;
            }
        }
    }

    private bool Insert(ulong hash)
    {
        var mask = _slots.Length - 1;
        for (var i = (int)(hash & (ulong)mask); ; i = (i + 1) & mask)
        {
            if (_slots[i] == 0)
            {
                _slots[i] = hash;
                Count++;
                return true;
            }

            if (_slots[i] == hash)
            {
                return false;
            }
        }
    }
}
