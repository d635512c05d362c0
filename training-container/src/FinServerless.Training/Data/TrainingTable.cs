using System.Text.Json;
using FinServerless.Datasets.Output;
using FinServerless.Datasets.Ingest;

namespace FinServerless.Training.Data;

/// <summary>
/// A labelled dense matrix: features row-major as float (NaN = missing) and a 0/1 label per row, read from a
/// curated run (its parts, checked against the manifest's SHA-256).
/// </summary>
public sealed class TrainingTable
{
    /// <summary>Creates a table; <paramref name="x"/> is rows × features, row-major.</summary>
    public TrainingTable(IReadOnlyList<string> features, float[] x, float[] y, string source)
    {
        if (x.Length != (long)y.Length * features.Count)
        {
            throw new ArgumentException($"{y.Length} rows × {features.Count} features need {(long)y.Length * features.Count} values, got {x.Length}.");
        }

        Features = features;
        X = x;
        Y = y;
        Source = source;
    }

    /// <summary>Feature names in matrix order.</summary>
    public IReadOnlyList<string> Features { get; }

    /// <summary>Row-major values (NaN = missing).</summary>
    public float[] X { get; }

    /// <summary>Labels, 0 or 1.</summary>
    public float[] Y { get; }

    /// <summary>Where the rows came from (for messages).</summary>
    public string Source { get; }

    /// <summary>Number of rows.</summary>
    public int Rows => Y.Length;

    /// <summary>Number of features.</summary>
    public int Columns => Features.Count;

    /// <summary>Number of positive rows.</summary>
    public int Positives => Y.Count(v => v > 0.5f);

    /// <summary>The rows at <paramref name="rows"/>, in that order.</summary>
    public TrainingTable Subset(IReadOnlyList<int> rows)
    {
        var f = Columns;
        var x = new float[rows.Count * f];
        var y = new float[rows.Count];
        for (var i = 0; i < rows.Count; i++)
        {
            X.AsSpan(rows[i] * f, f).CopyTo(x.AsSpan(i * f, f));
            y[i] = Y[rows[i]];
        }

        return new TrainingTable(Features, x, y, Source);
    }

    /// <summary>These rows with only <paramref name="features"/>, in that order (the same table when they are its own features).</summary>
    public TrainingTable Select(IReadOnlyList<string> features)
    {
        if (features.SequenceEqual(Features))
        {
            return this;
        }

        var names = Features.ToList();
        var positions = features.Select(f => names.IndexOf(f) is var i and >= 0 ? i : throw new TrainingInputException($"The rows from {Source} lack feature '{f}'.")).ToArray();
        var x = new float[Rows * positions.Length];
        for (var r = 0; r < Rows; r++)
        {
            for (var k = 0; k < positions.Length; k++)
            {
                x[(r * positions.Length) + k] = X[(r * Columns) + positions[k]];
            }
        }

        return new TrainingTable(features, x, Y, Source);
    }

    /// <summary>One feature's values.</summary>
    public float[] Column(int feature)
    {
        var values = new float[Rows];
        for (var r = 0; r < Rows; r++)
        {
            values[r] = X[(r * Columns) + feature];
        }

        return values;
    }

    /// <summary>
    /// The model input for these rows: the model's features picked by name, in its order, with missing values
    /// imputed as the manifest says — what the scorer feeds ONNX Runtime.
    /// </summary>
    public float[] ScoringInput(IReadOnlyList<FinServerless.Scoring.FeatureSpec> features)
    {
        var names = Features.ToList();
        var positions = features.Select(f => names.IndexOf(f.Name) is var i and >= 0 ? i
            : throw new TrainingInputException($"The rows from {Source} lack feature '{f.Name}'.")).ToArray();
        var x = new float[Rows * positions.Length];
        for (var r = 0; r < Rows; r++)
        {
            for (var k = 0; k < positions.Length; k++)
            {
                var v = X[(r * Columns) + positions[k]];
                x[(r * positions.Length) + k] = float.IsNaN(v) && features[k].Impute is { } impute ? (float)impute : v;
            }
        }

        return x;
    }

    /// <summary>Fails with a bad-input error when the table cannot train a binary classifier.</summary>
    public void RequireTrainable(string what = "training data")
    {
        if (Rows == 0)
        {
            throw new TrainingInputException($"The {what} from {Source} is empty: no rows to train on.");
        }

        var positives = Positives;
        if (positives == 0 || positives == Rows)
        {
            throw new TrainingInputException($"The {what} from {Source} has only one class ({Rows:N0} rows, all labelled {(positives == 0 ? 0 : 1)}); a classifier needs both defaults and non-defaults.");
        }
    }

    /// <summary>Reads a curated run; <paramref name="features"/> selects and orders features (default: every column that is neither id nor target).</summary>
    /// <remarks><paramref name="alsoLoad"/> names more columns to read where the run has them (a champion's features, appended after the chosen ones).</remarks>
    public static async Task<(TrainingTable Table, RunManifest Run, string ManifestSha256)> LoadAsync(
        IRunOutput store, string manifestPath, IReadOnlyList<string>? features = null, CancellationToken cancellationToken = default, IEnumerable<string>? alsoLoad = null)
    {
        var bytes = await store.ReadAsync(manifestPath, cancellationToken).ConfigureAwait(false)
            ?? throw new TrainingInputException($"Curated run manifest {store.Describe(manifestPath)} does not exist.");
        RunManifest run;
        try
        {
            run = JsonSerializer.Deserialize<RunManifest>(bytes, RunManifest.JsonOptions)
                ?? throw new TrainingInputException($"Curated run manifest {store.Describe(manifestPath)} is empty.");
        }
        catch (JsonException ex)
        {
            throw new TrainingInputException($"Curated run manifest {store.Describe(manifestPath)} is not valid JSON: {ex.Message}", ex);
        }

        var target = run.TargetColumn
            ?? throw new TrainingInputException($"Curated run {run.RunId} ({store.Describe(manifestPath)}) has no target column; its contract must give one column the role 'target'.");
        var chosen = features?.ToList() ?? run.Columns.Where(c => c != target && !run.IdColumns.Contains(c)).ToList();
        var missing = chosen.Where(c => !run.Columns.Contains(c)).ToList();
        if (missing.Count > 0)
        {
            throw new TrainingInputException($"Curated run {run.RunId} lacks feature(s) {string.Join(", ", missing.Select(m => $"'{m}'"))}; its columns are {string.Join(", ", run.Columns)}.");
        }

        if (chosen.Count == 0)
        {
            throw new TrainingInputException($"Curated run {run.RunId} has no feature columns besides ids and the target.");
        }

        chosen.AddRange((alsoLoad ?? []).Where(c => run.Columns.Contains(c) && c != target && !chosen.Contains(c)).Distinct());

        var x = new List<float>(checked((int)Math.Min(int.MaxValue, run.Rows.Accepted * chosen.Count)));
        var y = new List<float>((int)run.Rows.Accepted);
        for (var index = 0; index < run.Parts.Count; index++)
        {
            var part = run.Parts[index];
            var partPath = run.PartPath(index);
            var content = await store.ReadAsync(partPath, cancellationToken).ConfigureAwait(false)
                ?? throw new TrainingInputException($"Curated part {store.Describe(partPath)} of run {run.RunId} is missing.");
            try
            {
                ReadPart(CuratedPartReader.Verified(content, part), part.Path, chosen, target, x, y);
            }
            catch (CuratedDataException ex)
            {
                throw new TrainingInputException(ex.Message, ex);
            }
        }

        var table = new TrainingTable(chosen, [.. x], [.. y], store.Describe(manifestPath));
        return (table, run, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)));
    }

    private static void ReadPart(byte[] content, string path, List<string> features, string target, List<float> x, List<float> y)
    {
        using var reader = new CuratedPartReader(content, $"Curated part {path}", features, target: target);
        var row = new float[features.Count];
        while (reader.ReadRow(row))
        {
            y.Add(reader.Label);
            x.AddRange(row);
        }
    }
}
