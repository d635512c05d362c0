using FinServerless.Scoring;

namespace FinServerless.Training.Evaluation;

/// <summary>One point of a curve (ROC: false-positive rate, true-positive rate; KS: population share, gap).</summary>
public sealed record CurvePoint(double X, double Y);

/// <summary>A calibration group: rows, mean predicted probability, observed default rate.</summary>
public sealed record CalibrationBin(int Decile, int Rows, double MeanPredicted, double ObservedRate);

/// <summary>A risk band's share of rows and its observed default rate.</summary>
public sealed record BandRow(string Band, int Rows, int Defaults, double ObservedRate, double MeanPredicted, string? Range = null);

/// <summary>Every figure the evaluation report shows.</summary>
public sealed record EvaluationResult(
    int Rows,
    int Positives,
    double Auc,
    double Ks,
    double Gini,
    double LogLoss,
    double Brier,
    IReadOnlyList<CalibrationBin> Calibration,
    IReadOnlyList<BandRow> Bands,
    IReadOnlyList<CurvePoint> Roc,
    IReadOnlyList<CurvePoint> KsCurve)
{
    /// <summary>Mean predicted probability of default over the rows.</summary>
    public double MeanPredicted => Calibration.Sum(c => c.MeanPredicted * c.Rows) / Math.Max(1, Rows);

    /// <summary>Observed default rate of the rows.</summary>
    public double ObservedRate => Positives / (double)Math.Max(1, Rows);

    /// <summary>Expected calibration error: the row-weighted mean gap between predicted and observed rate over the ten equal-count bins.</summary>
    public double Ece => Calibration.Sum(c => c.Rows * Math.Abs(c.MeanPredicted - c.ObservedRate)) / Math.Max(1, Rows);

    /// <summary>The scalar metrics by name, as recorded in model manifests.</summary>
    public IReadOnlyDictionary<string, double> Scalars => new Dictionary<string, double>
    {
        ["auc"] = Auc,
        ["ks"] = Ks,
        ["gini"] = Gini,
        ["log_loss"] = LogLoss,
        ["brier"] = Brier,
        ["ece"] = Ece,
        ["mean_pd"] = MeanPredicted,
        ["observed_rate"] = ObservedRate,
        ["rows"] = Rows,
        ["positives"] = Positives,
    };
}

/// <summary>Discrimination and calibration metrics of predicted probabilities against 0/1 labels.</summary>
public static class Metrics
{
    /// <summary>Area under the ROC curve (ties count one half), the Mann–Whitney statistic.</summary>
    public static double Auc(ReadOnlySpan<float> predicted, ReadOnlySpan<float> labels)
    {
        var order = SortedOrder(predicted);
        double positives = 0, rankSum = 0;
        var i = 0;
        while (i < order.Length)
        {
            var j = i;
            while (j + 1 < order.Length && predicted[order[j + 1]] == predicted[order[i]])
            {
                j++;
            }

            var averageRank = ((i + j) / 2.0) + 1;
            for (var k = i; k <= j; k++)
            {
                if (labels[order[k]] > 0.5f)
                {
                    positives++;
                    rankSum += averageRank;
                }
            }

            i = j + 1;
        }

        var negatives = order.Length - positives;
        if (positives == 0 || negatives == 0)
        {
            return double.NaN;
        }

        return (rankSum - (positives * (positives + 1) / 2)) / (positives * negatives);
    }

    /// <summary>Evaluates <paramref name="predicted"/> against <paramref name="labels"/>, with the band table for <paramref name="bands"/>.</summary>
    public static EvaluationResult Evaluate(ReadOnlySpan<float> predicted, ReadOnlySpan<float> labels, RiskBands? bands = null)
    {
        bands ??= RiskBands.Default;
        var n = predicted.Length;
        var order = SortedOrder(predicted);
        Array.Reverse(order); // riskiest first
        double positives = 0;
        foreach (var l in labels)
        {
            positives += l > 0.5f ? 1 : 0;
        }

        var negatives = n - positives;
        var roc = new List<CurvePoint> { new(0, 0) };
        var ksCurve = new List<CurvePoint> { new(0, 0) };
        double tp = 0, fp = 0, ks = 0;
        var step = Math.Max(1, n / 200);
        for (var i = 0; i < n; i++)
        {
            if (labels[order[i]] > 0.5f)
            {
                tp++;
            }
            else
            {
                fp++;
            }

            var boundary = i == n - 1 || predicted[order[i + 1]] != predicted[order[i]];
            if (boundary)
            {
                ks = Math.Max(ks, (tp / positives) - (fp / negatives));
            }

            if (boundary && (i % step == 0 || i == n - 1))
            {
                roc.Add(new CurvePoint(fp / negatives, tp / positives));
                ksCurve.Add(new CurvePoint((i + 1.0) / n, (tp / positives) - (fp / negatives)));
            }
        }

        double logLoss = 0, brier = 0;
        for (var i = 0; i < n; i++)
        {
            var p = Math.Clamp((double)predicted[i], 1e-15, 1 - 1e-15);
            logLoss -= labels[i] > 0.5f ? Math.Log(p) : Math.Log(1 - p);
            brier += (predicted[i] - labels[i]) * (double)(predicted[i] - labels[i]);
        }

        var auc = Auc(predicted, labels);
        return new EvaluationResult(
            n, (int)positives, auc, ks, (2 * auc) - 1, logLoss / n, brier / n,
            Calibration(predicted, labels), BandTable(predicted, labels, bands), roc, ksCurve);
    }

    private static List<CalibrationBin> Calibration(ReadOnlySpan<float> predicted, ReadOnlySpan<float> labels)
    {
        var order = SortedOrder(predicted);
        var bins = new List<CalibrationBin>();
        for (var d = 0; d < 10; d++)
        {
            var start = order.Length * d / 10;
            var end = order.Length * (d + 1) / 10;
            if (end <= start)
            {
                continue;
            }

            double sumP = 0, sumY = 0;
            for (var i = start; i < end; i++)
            {
                sumP += predicted[order[i]];
                sumY += labels[order[i]];
            }

            bins.Add(new CalibrationBin(d + 1, end - start, sumP / (end - start), sumY / (end - start)));
        }

        return bins;
    }

    private static List<BandRow> BandTable(ReadOnlySpan<float> predicted, ReadOnlySpan<float> labels, RiskBands bands)
    {
        var rows = new int[bands.Names.Count];
        var defaults = new int[bands.Names.Count];
        var sums = new double[bands.Names.Count];
        for (var i = 0; i < predicted.Length; i++)
        {
            var b = bands.IndexOf(predicted[i]);
            rows[b]++;
            defaults[b] += labels[i] > 0.5f ? 1 : 0;
            sums[b] += predicted[i];
        }

        return bands.Names.Select((name, b) => new BandRow(name, rows[b], defaults[b], rows[b] == 0 ? 0 : (double)defaults[b] / rows[b], rows[b] == 0 ? 0 : sums[b] / rows[b], bands.Range(b))).ToList();
    }

    private static int[] SortedOrder(ReadOnlySpan<float> predicted)
    {
        var keys = predicted.ToArray();
        var order = Enumerable.Range(0, keys.Length).ToArray();
        Array.Sort(keys, order);
        return order;
    }
}
