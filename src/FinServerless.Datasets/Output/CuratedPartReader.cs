using System.Security.Cryptography;
using System.Text;
using FinServerless.Datasets.Csv;
using FinServerless.Datasets.Ingest;
using FinServerless.Datasets.Validation;

namespace FinServerless.Datasets.Output;

/// <summary>Curated rows that a reader cannot turn into model input: the message names the source, line and column (never a value).</summary>
public sealed class CuratedDataException(string message) : Exception(message);

/// <summary>
/// The one reader of curated rows (a curated part, or the curated form of rows sent to the HTTP scorer): columns are
/// found by name in the header, features parsed straight into the caller's buffer (an empty cell is missing and
/// becomes the feature's imputation, or NaN), and, when asked, the 0/1 target. Training, batch scoring, the HTTP
/// scorer and the benchmarks read through it, so a row means the same to each of them. No allocation per row.
/// </summary>
public sealed class CuratedPartReader : IDisposable
{
    private readonly CsvReader _reader;
    private readonly string _source;
    private readonly IReadOnlyList<string> _features;
    private readonly int[] _positions;
    private readonly float[] _impute;
    private readonly int _target = -1;
    private readonly string? _targetName;
    private readonly bool _skipUnlabelled;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>>?[] _categories;
    private readonly float[] _other;

    /// <summary>
    /// Reads <paramref name="content"/> (CSV with a header, as ingest writes it); <paramref name="features"/> are read in
    /// that order, an empty cell becoming <paramref name="impute"/>[k] (null: NaN); <paramref name="target"/>, when
    /// given, must hold 0 or 1 on every row.
    /// </summary>
    /// <exception cref="CuratedDataException">The content has no header or lacks a column.</exception>
    public CuratedPartReader(byte[] content, string source, IReadOnlyList<string> features, IReadOnlyList<double?>? impute = null, string? target = null, IReadOnlyList<IReadOnlyList<string>?>? categories = null, bool skipUnlabelled = false)
        : this(new MemoryStream(content ?? throw new ArgumentNullException(nameof(content)), writable: false), source, features, impute, target, categories, skipUnlabelled)
    {
    }

    /// <summary>
    /// Reads curated rows from <paramref name="content"/> as they arrive (it is read forward once, never held whole); the
    /// reader owns the stream. A feature with <paramref name="categories"/> is an open category column's text: each listed
    /// value reads as its index, any other value as the index after the last ("other"), an empty cell as missing. With
    /// <paramref name="skipUnlabelled"/>, rows whose target is empty (no outcome yet) are passed over and counted.
    /// </summary>
    /// <exception cref="CuratedDataException">The content has no header or lacks a column.</exception>
    public CuratedPartReader(Stream content, string source, IReadOnlyList<string> features, IReadOnlyList<double?>? impute = null, string? target = null, IReadOnlyList<IReadOnlyList<string>?>? categories = null, bool skipUnlabelled = false)
    {
        ArgumentNullException.ThrowIfNull(content);
        ArgumentNullException.ThrowIfNull(features);
        _source = source;
        _features = features;
        // A small first buffer (below the large-object heap; it grows for a longer row): one per part read.
        _reader = new CsvReader(content, (byte)',', 1 << 20, source, bufferSize: 1 << 16);
        try
        {
            if (!_reader.ReadRow())
            {
                throw new CuratedDataException($"{source} is empty (no header).");
            }

            Header = [.. Enumerable.Range(0, _reader.FieldCount).Select(i => Encoding.UTF8.GetString(_reader[i]))];
            _positions = [.. features.Select(f => Position(f) is var p and >= 0 ? p : throw new CuratedDataException($"{source} has no column '{f}'."))];
            _impute = [.. features.Select((_, k) => impute?[k] is { } v ? (float)v : float.NaN)];
            _categories = [.. features.Select((_, k) => categories?[k] is { } values
                ? values.Select((v, i) => (v, i)).ToDictionary(p => p.v, p => p.i, StringComparer.Ordinal).GetAlternateLookup<ReadOnlySpan<char>>()
                : (Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>>?)null)];
            _other = [.. features.Select((_, k) => (float)(categories?[k]?.Count ?? 0))];
            _skipUnlabelled = skipUnlabelled;
            if (target is not null)
            {
                _target = Position(target) is var t and >= 0 ? t : throw new CuratedDataException($"{source} has no target column '{target}'.");
                _targetName = target;
            }
        }
        catch
        {
            _reader.Dispose();
            throw;
        }
    }

    /// <summary>The content's columns, in order.</summary>
    public IReadOnlyList<string> Header { get; }

    /// <summary>Features per row.</summary>
    public int Features => _positions.Length;

    /// <summary>The line of the row just read (1 is the header).</summary>
    public long Line => _reader.Line;

    /// <summary>The current row's target (0 or 1), when a target was asked for.</summary>
    public float Label { get; private set; }

    /// <summary>Rows passed over because their target was empty (with skipUnlabelled).</summary>
    public long UnlabelledRows { get; private set; }

    /// <summary>Where <paramref name="column"/> is in the header, or -1.</summary>
    public int Position(string column)
    {
        for (var i = 0; i < Header.Count; i++)
        {
            if (Header[i] == column)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The current row's raw cell at header position <paramref name="column"/> (for ids, copied through as they are).</summary>
    public ReadOnlySpan<byte> this[int column] => column < _reader.FieldCount ? _reader[column] : [];

    /// <summary>Reads the next row's features into <paramref name="features"/> (and its target into <see cref="Label"/>); false at the end.</summary>
    /// <exception cref="CuratedDataException">A feature is not a number, or the target is not 0 or 1.</exception>
    public bool ReadRow(Span<float> features)
    {
        while (true)
        {
            if (!_reader.ReadRow())
            {
                return false;
            }

            if (!_skipUnlabelled || _target < 0 || this[_target].Length > 0)
            {
                break;
            }

            UnlabelledRows++;
        }

        for (var k = 0; k < _positions.Length; k++)
        {
            var cell = this[_positions[k]];
            if (cell.Length == 0)
            {
                features[k] = _impute[k];
            }
            else if (_categories[k] is { } lookup)
            {
                features[k] = Category(lookup, cell, _other[k]);
            }
            else if (FastNumber.TryParseDouble(cell, out var value))
            {
                features[k] = (float)value;
            }
            else
            {
                throw new CuratedDataException($"{_source}, line {_reader.Line}: feature '{_features[k]}' is not a number; models take numeric features (encode categories in the dataset contract).");
            }
        }

        if (_target >= 0)
        {
            var label = this[_target];
            if (label.Length == 0 || !FastNumber.TryParseDouble(label, out var l) || double.IsNaN(l))
            {
                throw new CuratedDataException($"{_source}, line {_reader.Line}: target '{_targetName}' is missing or not a number (NaN target); training needs a 0/1 label on every row.");
            }

            if (l is not (0 or 1))
            {
                throw new CuratedDataException($"{_source}, line {_reader.Line}: target '{_targetName}' is {l}; a binary classifier needs 0 or 1.");
            }

            Label = (float)l;
        }

        return true;
    }

    private static float Category(Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> lookup, ReadOnlySpan<byte> cell, float other)
    {
        if (cell.Length > 512)
        {
            return other;
        }

        Span<char> chars = stackalloc char[cell.Length];
        var n = Encoding.UTF8.GetChars(cell, chars);
        return lookup.TryGetValue(chars[..n], out var index) ? index : other;
    }

    /// <summary>A part's bytes, checked against the SHA-256 its run's manifest records.</summary>
    /// <exception cref="CuratedDataException">The bytes are not the ones committed.</exception>
    public static byte[] Verified(byte[] content, RunPart part)
    {
        var actual = Convert.ToHexStringLower(SHA256.HashData(content));
        return actual == part.Sha256
            ? content
            : throw new CuratedDataException($"Curated part {part.Path} has SHA-256 {actual} but the run's manifest says {part.Sha256}; the run was modified after it was committed.");
    }

    /// <inheritdoc/>
    public void Dispose() => _reader.Dispose();
}
