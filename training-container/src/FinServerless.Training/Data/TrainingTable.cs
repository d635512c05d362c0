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
    /// <param name="details">What the run's contract says of its features (reason text, protected, open category), by name.</param>
    /// <param name="categories">For open category features: the values their codes stand for (code i is categories[i], Count is "other").</param>
    public TrainingTable(IReadOnlyList<string> features, float[] x, float[] y, string source, IReadOnlyDictionary<string, FeatureColumn>? details = null, IReadOnlyDictionary<string, IReadOnlyList<string>>? categories = null)
    {
        if (x.Length != (long)y.Length * features.Count)
        {
            throw new ArgumentException($"{y.Length} rows × {features.Count} features need {(long)y.Length * features.Count} values, got {x.Length}.");
        }

        Features = features;
        X = x;
        Y = y;
        Source = source;
        Details = details ?? new Dictionary<string, FeatureColumn>();
        Categories = categories ?? new Dictionary<string, IReadOnlyList<string>>();
    }

    /// <summary>What the run's contract says of each feature, by name (absent for runs curated before it was recorded).</summary>
    public IReadOnlyDictionary<string, FeatureColumn> Details { get; }

    /// <summary>For each open category feature: the values its codes stand for, most frequent first; code Count is "other".</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> Categories { get; }

    /// <summary>Rows of the run left out because their target was empty (an outcome not known yet).</summary>
    public long UnlabelledRows { get; init; }

    /// <summary>
    /// <paramref name="feature"/> as a model's manifest records it: its categories (open category columns) and the
    /// contract's reason text and protected flag, so every scoring path encodes and explains it the same way.
    /// </summary>
    public FinServerless.Scoring.FeatureSpec Describe(FinServerless.Scoring.FeatureSpec feature) => feature with
    {
        Categories = Categories.TryGetValue(feature.Name, out var values) ? values : null,
        ReasonText = Details.TryGetValue(feature.Name, out var detail) ? detail.ReasonText : null,
        Protected = detail?.Protected ?? false,
    };

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

        return new TrainingTable(Features, x, y, Source, Details, Categories);
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

        return new TrainingTable(features, x, Y, Source, Details, Categories);
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
        // An open category coded by this table's categories is recoded by the model's own (another run may rank them differently).
        var recode = features.Select(f => Recoding(f)).ToArray();
        var x = new float[Rows * positions.Length];
        for (var r = 0; r < Rows; r++)
        {
            for (var k = 0; k < positions.Length; k++)
            {
                var v = X[(r * Columns) + positions[k]];
                if (recode[k] is { } codes && !float.IsNaN(v))
                {
                    v = codes[(int)v];
                }

                x[(r * positions.Length) + k] = float.IsNaN(v) && features[k].Impute is { } impute ? (float)impute : v;
            }
        }

        return x;
    }

    /// <summary>
    /// For an open category feature of a model with its own categories (a champion trained on another run): the
    /// model's code of each of this table's codes (the last is "other"); null when the codes are taken as they are.
    /// </summary>
    private float[]? Recoding(FinServerless.Scoring.FeatureSpec feature)
    {
        if (!Categories.TryGetValue(feature.Name, out var ours) || feature.Categories is not { } model || model.SequenceEqual(ours))
        {
            return null;
        }

        var theirs = model.ToList();
        var other = (float)theirs.Count;
        return [.. ours.Select(v => theirs.IndexOf(v) is var i and >= 0 ? (float)i : other), other];
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
    /// <remarks>
    /// <paramref name="alsoLoad"/> names more columns to read where the run has them (a champion's features, appended after the chosen ones).
    /// Without <paramref name="labelled"/> (an outlier model), every row is read, labelled or not, the run need not have a target, and the labels are 0.
    /// <paramref name="given"/> codes open categories by a model's own values (a champion's) instead of the run's most frequent.
    /// </remarks>
    public static async Task<(TrainingTable Table, RunManifest Run, string ManifestSha256)> LoadAsync(
        IRunOutput store, string manifestPath, IReadOnlyList<string>? features = null, CancellationToken cancellationToken = default, IEnumerable<string>? alsoLoad = null, bool labelled = true,
        IReadOnlyDictionary<string, IReadOnlyList<string>>? given = null)
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

        var target = run.TargetColumn;
        if (target is null && labelled)
        {
            throw new TrainingInputException($"Curated run {run.RunId} ({store.Describe(manifestPath)}) has no target column; its contract must give one column the role 'target'.");
        }

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

        // Open category columns: the K values seen most in the run become codes 0..K-1, every other value code K.
        var details = run.Features.ToDictionary(f => f.Name, StringComparer.Ordinal);
        var open = chosen.Where(c => details.TryGetValue(c, out var d) && d.TopCategories is not null).ToList();
        if (open.FirstOrDefault(c => details[c].Pii) is { } personal)
        {
            throw new TrainingInputException($"Feature '{personal}' of run {run.RunId} is personal data (pii) and an open category: a model would list its most frequent values in its manifest. Leave it out of the features, or give the contract's 'allowed' values.");
        }

        var categories = given is not null
            ? chosen.Where(given.ContainsKey).ToDictionary(c => c, c => given[c], StringComparer.Ordinal)
            : open.Count == 0
            ? new Dictionary<string, IReadOnlyList<string>>()
            : await TopCategoriesAsync(store, run, open.ToDictionary(c => c, c => details[c].TopCategories!.Value), cancellationToken).ConfigureAwait(false);

        var x = new List<float>(checked((int)Math.Min(int.MaxValue, run.Rows.Accepted * chosen.Count)));
        var y = new List<float>((int)run.Rows.Accepted);
        long unlabelled = 0;
        await ForEachPartAsync(store, run, (content, path) =>
        {
            using var reader = new CuratedPartReader(content, $"Curated part {path}", chosen, target: labelled ? target : null,
                categories: categories.Count == 0 ? null : [.. chosen.Select(c => categories.GetValueOrDefault(c))], skipUnlabelled: labelled);
            var row = new float[chosen.Count];
            while (reader.ReadRow(row))
            {
                y.Add(reader.Label);
                x.AddRange(row);
            }

            unlabelled += reader.UnlabelledRows;
        }, cancellationToken).ConfigureAwait(false);

        var table = new TrainingTable(chosen, [.. x], [.. y], store.Describe(manifestPath), details, categories) { UnlabelledRows = unlabelled };
        return (table, run, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)));
    }

    /// <summary>Distinct values counted per open category column; past this many, new values are counted together as rare.</summary>
    private const int MaxDistinctCounted = 100_000;

    /// <summary>The most frequent values of each open category column in the run (ties by value, ordinal), at most its K.</summary>
    private static async Task<Dictionary<string, IReadOnlyList<string>>> TopCategoriesAsync(IRunOutput store, RunManifest run, Dictionary<string, int> top, CancellationToken cancellationToken)
    {
        var counts = top.Keys.ToDictionary(c => c, _ => new Dictionary<string, long>(StringComparer.Ordinal));
        await ForEachPartAsync(store, run, (content, path) =>
        {
            using var reader = new CuratedPartReader(content, $"Curated part {path}", []);
            var positions = top.Keys.Select(c => (Column: c, Position: reader.Position(c))).ToArray();
            while (reader.ReadRow([]))
            {
                foreach (var (column, position) in positions)
                {
                    var cell = reader[position];
                    if (cell.Length == 0)
                    {
                        continue;
                    }

                    var seen = counts[column];
                    var value = System.Text.Encoding.UTF8.GetString(cell);
                    if (seen.TryGetValue(value, out var n))
                    {
                        seen[value] = n + 1;
                    }
                    else if (seen.Count < MaxDistinctCounted)
                    {
                        seen[value] = 1;
                    }
                }
            }
        }, cancellationToken).ConfigureAwait(false);

        return counts.ToDictionary(
            c => c.Key,
            c => (IReadOnlyList<string>)[.. c.Value.OrderByDescending(p => p.Value).ThenBy(p => p.Key, StringComparer.Ordinal).Take(top[c.Key]).Select(p => p.Key)],
            StringComparer.Ordinal);
    }

    /// <summary>Reads each part of the run, checked against its SHA-256, and hands its bytes to <paramref name="read"/>.</summary>
    private static async Task ForEachPartAsync(IRunOutput store, RunManifest run, Action<byte[], string> read, CancellationToken cancellationToken)
    {
        for (var index = 0; index < run.Parts.Count; index++)
        {
            var part = run.Parts[index];
            var partPath = run.PartPath(index);
            var content = await store.ReadAsync(partPath, cancellationToken).ConfigureAwait(false)
                ?? throw new TrainingInputException($"Curated part {store.Describe(partPath)} of run {run.RunId} is missing.");
            try
            {
                read(CuratedPartReader.Verified(content, part), part.Path);
            }
            catch (CuratedDataException ex)
            {
                throw new TrainingInputException(ex.Message, ex);
            }
        }
    }
}
