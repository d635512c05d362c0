namespace FinServerless.Scoring;

/// <summary>One characteristic of a points-based model: its bin edges and each bin's points (the missing bin last).</summary>
/// <param name="Feature">The model feature.</param>
/// <param name="Thresholds">Upper edges of the bins, increasing: a value goes to the first bin whose edge it does not exceed.</param>
/// <param name="Points">Points of each bin, then of the missing bin (one more than the thresholds, plus one).</param>
public sealed record ReasonCharacteristic(string Feature, float[] Thresholds, double[] Points)
{
    /// <summary>The most points the characteristic gives.</summary>
    public double MaxPoints => Points.Max();

    /// <summary>The bin of <paramref name="value"/> (NaN: the missing bin).</summary>
    public int BinOf(float value) => BinOf(Thresholds, value);

    /// <summary>
    /// The bin of <paramref name="value"/> among bins with upper edges <paramref name="thresholds"/> (bin i is
    /// (t[i-1], t[i]], the last bin is above every edge, NaN is the missing bin, thresholds.Length + 1): the one rule
    /// the scorecard trains, exports and explains by.
    /// </summary>
    public static int BinOf(float[] thresholds, float value)
    {
        if (float.IsNaN(value))
        {
            return thresholds.Length + 1;
        }

        var bin = 0;
        while (bin < thresholds.Length && value > thresholds[bin])
        {
            bin++;
        }

        return bin;
    }
}

/// <summary>
/// How a model explains a score, recorded in its manifest. <c>scorecard-points</c>: each characteristic's points
/// below its maximum (the usual adverse-action method for a scorecard), the largest first. <c>tree-shap</c>: exact
/// TreeSHAP over the model's ONNX tree ensemble, the features whose contributions raise the log-odds of default
/// most, largest first. <c>none</c>: the model gives no reasons, and <see cref="Note"/> says why.
/// </summary>
public sealed record ReasonModel
{
    /// <summary>The method name for TreeSHAP reasons.</summary>
    public const string TreeShap = "tree-shap";

    /// <summary>The manifest entry of a tree model explained by TreeSHAP.</summary>
    public static ReasonModel TreeShapModel { get; } = new()
    {
        Method = TreeShap,
        Note = "exact TreeSHAP (path-dependent, node covers from the ONNX model's nodes_hitrates) computed by the scorer from the scored ONNX trees; each reason is a feature whose contribution raises the log-odds of default, largest first, and reason_k_points is that contribution in log-odds",
    };

    /// <summary>"scorecard-points", "tree-shap" or "none".</summary>
    public required string Method { get; init; }

    /// <summary>What the method means, or why there are none.</summary>
    public string? Note { get; init; }

    /// <summary>The characteristics, for scorecard-points.</summary>
    public IReadOnlyList<ReasonCharacteristic>? Characteristics { get; init; }

    /// <summary>Whether reasons can be computed.</summary>
    public bool GivesReasons => (Method == "scorecard-points" && Characteristics is { Count: > 0 }) || Method == TreeShap;
}

/// <summary>Computes a row's reason codes from its model input (features in the manifest's order).</summary>
public sealed class ReasonCodes
{
    private readonly ReasonCharacteristic[] _characteristics;
    private readonly double[] _maxPoints;
    private readonly int[] _positions;
    private readonly string[] _names;
    private readonly string?[] _texts;
    private readonly bool[] _protected;
    private readonly Trees.TreeShap? _shap;

    /// <summary>Reasons for <paramref name="model"/>'s rows, or null when the model gives none.</summary>
    public static ReasonCodes? For(LoadedModel model) => model.Manifest.Reasons switch
    {
        { Method: ReasonModel.TreeShap } => model.Shap is { } shap ? new ReasonCodes(model.Manifest, shap) : null,
        { GivesReasons: true } reasons => new ReasonCodes(model.Manifest, reasons),
        _ => null,
    };

    /// <summary>Decimals the reasons' values are written with: points to 0.01, log-odds contributions to 0.0001.</summary>
    public int Decimals => _shap is null ? 2 : 4;

    private ReasonCodes(ModelManifest manifest, Trees.TreeShap shap)
    {
        _shap = shap;
        _names = [.. manifest.Features.Select(f => f.Name)];
        _texts = [.. manifest.Features.Select(f => f.ReasonText)];
        _protected = [.. manifest.Features.Select(f => f.Protected)];
        _characteristics = [];
        _maxPoints = [];
        _positions = [];
    }

    private ReasonCodes(ModelManifest manifest, ReasonModel reasons)
    {
        var names = manifest.Features.Select(f => f.Name).ToList();
        // A protected characteristic still scores; it is never a reason.
        _characteristics = [.. reasons.Characteristics!.Where(c => names.IndexOf(c.Feature) is var i and >= 0 && !manifest.Features[i].Protected)];
        _maxPoints = [.. _characteristics.Select(c => c.MaxPoints)];
        _positions = [.. _characteristics.Select(c => names.IndexOf(c.Feature))];
        _names = [.. _characteristics.Select(c => c.Feature)];
        _texts = [.. _positions.Select(p => manifest.Features[p].ReasonText)];
        _protected = new bool[_characteristics.Length];
    }

    /// <summary>The feature names the reasons index into.</summary>
    public IReadOnlyList<string> Names => _names;

    /// <summary>The contract's adverse-action text of each of <see cref="Names"/> (null where it gives none).</summary>
    public IReadOnlyList<string?> Texts => _texts;

    /// <summary>The texts by feature, for the features that have one (the code table of a score run).</summary>
    public IReadOnlyDictionary<string, string> TextTable =>
        _names.Zip(_texts).Where(p => p.Second is not null && !_protected[Array.IndexOf(_names, p.First)]).ToDictionary(p => p.First, p => p.Second!, StringComparer.Ordinal);

    /// <summary>
    /// The row's top <paramref name="features"/>.Length reasons: the characteristics losing the most points against
    /// their maximum, largest first, only those losing some (the rest are -1 with 0 points).
    /// </summary>
    /// <remarks>TreeSHAP: the features whose contributions to the log-odds are largest and positive.</remarks>
    public void Top(ReadOnlySpan<float> row, Span<int> features, Span<float> pointsLost)
    {
        features.Fill(-1);
        pointsLost.Clear();
        if (_shap is not null)
        {
            Top(row, 1, row.Length, features.Length, features, pointsLost);
            return;
        }

        for (var c = 0; c < _characteristics.Length; c++)
        {
            var characteristic = _characteristics[c];
            Insert(c, (float)(_maxPoints[c] - characteristic.Points[characteristic.BinOf(row[_positions[c]])]), features, pointsLost);
        }
    }

    /// <summary>
    /// <see cref="Top(ReadOnlySpan{float}, Span{int}, Span{float})"/> for <paramref name="count"/> rows (row-major, the
    /// model's width): <paramref name="features"/> and <paramref name="pointsLost"/> hold <paramref name="perRow"/> reasons per
    /// row. TreeSHAP works a block of rows at a time, which is many times faster than row by row.
    /// </summary>
    public void Top(ReadOnlySpan<float> rows, int count, int width, int perRow, Span<int> features, Span<float> pointsLost)
    {
        if (_shap is null)
        {
            for (var r = 0; r < count; r++)
            {
                Top(rows.Slice(r * width, width), features.Slice(r * perRow, perRow), pointsLost.Slice(r * perRow, perRow));
            }

            return;
        }

        var stride = _shap.FeatureCount + 1;
        var block = Math.Min(count, Trees.TreeShap.BlockRows);
        var phi = System.Buffers.ArrayPool<double>.Shared.Rent(block * stride);
        try
        {
            for (var start = 0; start < count; start += block)
            {
                var n = Math.Min(block, count - start);
                _shap.Contributions(rows.Slice(start * width, n * width), n, phi);
                for (var r = 0; r < n; r++)
                {
                    var top = features.Slice((start + r) * perRow, perRow);
                    var lost = pointsLost.Slice((start + r) * perRow, perRow);
                    top.Fill(-1);
                    lost.Clear();
                    for (var f = 0; f < _shap.FeatureCount; f++)
                    {
                        if (!_protected[f])
                        {
                            Insert(f, (float)phi[(r * stride) + f], top, lost);
                        }
                    }
                }
            }
        }
        finally
        {
            System.Buffers.ArrayPool<double>.Shared.Return(phi);
        }
    }

    /// <summary>Puts reason <paramref name="c"/> with <paramref name="lost"/> into the short list, largest first, if positive and large enough.</summary>
    private static void Insert(int c, float lost, Span<int> features, Span<float> pointsLost)
    {
        if (!(lost > 0))
        {
            return;
        }

        // Insert into the short sorted list (N is small: a few reasons).
        var at = features.Length;
        while (at > 0 && (features[at - 1] < 0 || lost > pointsLost[at - 1]))
        {
            at--;
        }

        if (at >= features.Length)
        {
            return;
        }

        for (var k = features.Length - 1; k > at; k--)
        {
            features[k] = features[k - 1];
            pointsLost[k] = pointsLost[k - 1];
        }

        features[at] = c;
        pointsLost[at] = lost;
    }
}
