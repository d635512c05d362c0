using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using FinServerless.Onnx.Writer;
using FinServerless.Scoring;
using FinServerless.Training.Data;

namespace FinServerless.Training.Trainers;

/// <summary>
/// A logistic scorecard: each feature is cut into equal-frequency bins (merged until every bin holds enough rows
/// and both classes), each bin gets its weight of evidence WoE = ln(share of defaults / share of non-defaults),
/// with missing values as their own bin; an L2-penalized logistic regression on the WoE values gives one
/// coefficient per feature. Points follow the usual scaling: <c>factor = PDO / ln 2</c>,
/// <c>offset = base score − factor · ln(base odds)</c>, <c>score = offset − factor · logit(default)</c>; each bin's
/// points are in the scorecard table. Binning is what makes it robust to extreme outliers.
/// </summary>
public sealed class ScorecardTrainer : ITrainer
{
    /// <summary>Parameter names this trainer accepts.</summary>
    public static readonly string[] Known = ["max_bins", "min_bin_share", "l2", "base_score", "base_odds", "pdo", "iterations"];

    /// <inheritdoc/>
    public string Name => "scorecard";

    /// <summary>A feature's bins: upper edges (bin i is (t[i-1], t[i]]), WoE per bin, rows and defaults per bin, and the missing bin.</summary>
    public sealed record Binning(string Feature, float[] Thresholds, double[] Woe, int[] Rows, int[] Defaults, double MissingWoe, int MissingRows, int MissingDefaults)
    {
        /// <summary>The bin of a value (Thresholds.Length + 1 = missing).</summary>
        public int BinOf(float value) => ReasonCharacteristic.BinOf(Thresholds, value);

        /// <summary>WoE of a value.</summary>
        public double WoeOf(float value)
        {
            var bin = BinOf(value);
            return bin > Thresholds.Length ? MissingWoe : Woe[bin];
        }
    }

    /// <inheritdoc/>
    public TrainedModel Train(TrainingTable train, TrainingTable validation, TrainerSettings settings, TrainingProgress progress, CancellationToken cancellationToken)
    {
        var p = new Hyperparameters(Name, settings.Parameters, Known);
        var maxBins = p.Integer("max_bins", 20, 2, 1000);
        var minShare = p.Number("min_bin_share", 0.02, 0, 0.5);
        var l2 = p.Number("l2", 1, 0);
        var baseScore = p.Number("base_score", 600);
        var baseOdds = p.Number("base_odds", 50, 1e-9);
        var pdo = p.Number("pdo", 20, 1e-9);
        var iterations = p.Integer("iterations", 50, 1, 10_000);

        // One column at a time: bin it, then replace its values by their bin's WoE (the regression's input).
        var bins = new Binning[train.Columns];
        var woe = new double[train.Columns][];
        for (var j = 0; j < train.Columns; j++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var column = train.Column(j);
            bins[j] = Bin(train.Features[j], column, train.Y, maxBins, minShare);
            woe[j] = new double[column.Length];
            for (var r = 0; r < column.Length; r++)
            {
                woe[j][r] = bins[j].WoeOf(column[r]);
            }

            progress.Report(Name, "binning", j + 1, train.Columns, message: $"{train.Features[j]}: {bins[j].Thresholds.Length + 1} bins");
        }

        var (beta, intercept) = FitLogistic(woe, train.Y, l2, iterations, progress, Name);
        var factor = pdo / Math.Log(2);
        var offset = baseScore - (factor * Math.Log(baseOdds));
        var model = new Model(bins, beta, intercept, offset, factor)
        {
            Features = train.Features.Select(f => new FeatureSpec(f)).ToList(),
            Parameters = p.Resolved,
            Probability = (ScorecardExport.OutputName, 0),
        };
        model.TrainingFacts["bins_total"] = bins.Sum(b => b.Thresholds.Length + 1);
        model.TrainingFacts["points_factor"] = factor;
        model.TrainingFacts["points_offset"] = offset;
        return model;
    }

    /// <summary>Equal-frequency bins merged until each holds at least <paramref name="minShare"/> of the rows and both classes.</summary>
    public static Binning Bin(string feature, float[] values, float[] labels, int maxBins, double minShare)
    {
        // The present values sorted with their labels; missing values counted on the side.
        var presentCount = 0;
        foreach (var v in values)
        {
            presentCount += float.IsNaN(v) ? 0 : 1;
        }

        var sorted = new float[presentCount];
        var sortedBad = new bool[presentCount];
        int totalBad = 0, missingBad = 0, k = 0;
        for (var i = 0; i < values.Length; i++)
        {
            var bad = labels[i] > 0.5f;
            totalBad += bad ? 1 : 0;
            if (float.IsNaN(values[i]))
            {
                missingBad += bad ? 1 : 0;
            }
            else
            {
                (sorted[k], sortedBad[k]) = (values[i], bad);
                k++;
            }
        }

        FloatRadixSort.Sort(sorted, sortedBad);
        var edges = new List<float>();
        for (var q = 1; q < maxBins && sorted.Length > 0; q++)
        {
            var edge = sorted[Math.Min(sorted.Length - 1, (int)((long)q * sorted.Length / maxBins))];
            if (edge < sorted[^1] && (edges.Count == 0 || edge > edges[^1]))
            {
                edges.Add(edge);
            }
        }

        // Rows and defaults per bin (t[b-1], t[b]]: one walk over the sorted values.
        var rows = new List<int>(edges.Count + 1);
        var bads = new List<int>(edges.Count + 1);
        var at = 0;
        for (var bin = 0; bin <= edges.Count; bin++)
        {
            var (start, defaults) = (at, 0);
            while (at < sorted.Length && (bin == edges.Count || sorted[at] <= edges[bin]))
            {
                defaults += sortedBad[at] ? 1 : 0;
                at++;
            }

            rows.Add(at - start);
            bads.Add(defaults);
        }

        var totalGood = values.Length - totalBad;
        while (true)
        {
            var weakest = -1;
            for (var b = 0; b < rows.Count; b++)
            {
                if (rows[b] < minShare * values.Length || bads[b] == 0 || bads[b] == rows[b])
                {
                    if (weakest < 0 || rows[b] < rows[weakest])
                    {
                        weakest = b;
                    }
                }
            }

            if (weakest < 0 || edges.Count == 0)
            {
                var missingRows = values.Length - presentCount;
                return new Binning(
                    feature,
                    [.. edges],
                    rows.Select((n, b) => Woe(bads[b], n - bads[b], totalBad, totalGood)).ToArray(),
                    [.. rows],
                    [.. bads],
                    missingRows == 0 ? 0 : Woe(missingBad, missingRows - missingBad, totalBad, totalGood),
                    missingRows,
                    missingBad);
            }

            // Merge the weakest bin with its smaller neighbour: drop the edge between them and add up their counts.
            var mergeRight = weakest == 0 || (weakest < rows.Count - 1 && rows[weakest + 1] < rows[weakest - 1]);
            var left = mergeRight ? weakest : weakest - 1;
            rows[left] += rows[left + 1];
            bads[left] += bads[left + 1];
            rows.RemoveAt(left + 1);
            bads.RemoveAt(left + 1);
            edges.RemoveAt(left);
        }
    }

    private static double Woe(double bad, double good, double totalBad, double totalGood) =>
        Math.Log(((bad + 0.5) / (totalBad + 0.5)) / ((good + 0.5) / (totalGood + 0.5)));

    /// <summary>
    /// L2-penalized logistic regression by Newton's method (the intercept is not penalized), on feature columns:
    /// each step builds the gradient Xᵀ(y − μ) and the Hessian Xᵀ·diag(μ(1 − μ))·X from column dot products,
    /// starting from zero (starting from the intercept-only model overshoots on rare defaults).
    /// </summary>
    public static (double[] Beta, double Intercept) FitLogistic(double[][] columns, float[] y, double l2, int iterations, TrainingProgress progress, string trainer)
    {
        var n = y.Length;
        var p = columns.Length;
        var d = p + 1;
        var w = new double[d];
        var eta = new double[n];
        var residual = new double[n];
        var weight = new double[n];
        var weighted = new double[n];
        for (var it = 0; it < iterations; it++)
        {
            Array.Fill(eta, w[0]);
            for (var j = 0; j < p; j++)
            {
                VectorMath.AddScaled(w[j + 1], columns[j], eta);
            }

            double loss = 0;
            for (var r = 0; r < n; r++)
            {
                var mu = 1 / (1 + Math.Exp(-eta[r]));
                loss -= y[r] > 0.5f ? Math.Log(Math.Max(mu, 1e-300)) : Math.Log(Math.Max(1 - mu, 1e-300));
                residual[r] = y[r] - mu;
                weight[r] = mu * (1 - mu);
            }

            var gradient = new double[d];
            var hessian = new double[d * d];
            gradient[0] = VectorMath.Sum(residual);
            hessian[0] = VectorMath.Sum(weight);
            for (var a = 0; a < p; a++)
            {
                gradient[a + 1] = VectorMath.Dot(residual, columns[a]) - (l2 * w[a + 1]);
                VectorMath.Multiply(weight, columns[a], weighted);
                hessian[a + 1] = hessian[(a + 1) * d] = VectorMath.Sum(weighted);
                for (var b = a; b < p; b++)
                {
                    hessian[((a + 1) * d) + b + 1] = hessian[((b + 1) * d) + a + 1] = VectorMath.Dot(weighted, columns[b]);
                }

                hessian[((a + 1) * d) + a + 1] += l2;
            }

            var step = Solve(hessian, gradient, d);
            var change = 0.0;
            for (var k = 0; k < d; k++)
            {
                w[k] += step[k];
                change = Math.Max(change, Math.Abs(step[k]));
            }

            progress.Report(trainer, "fit", it + 1, iterations, "train_log_loss", loss / n);
            if (change < 1e-8)
            {
                break;
            }
        }

        return (w[1..], w[0]);
    }

    private static double[] Solve(double[] a, double[] b, int d)
    {
        var m = (double[])a.Clone();
        var v = (double[])b.Clone();
        for (var col = 0; col < d; col++)
        {
            var pivot = col;
            for (var r = col + 1; r < d; r++)
            {
                if (Math.Abs(m[(r * d) + col]) > Math.Abs(m[(pivot * d) + col]))
                {
                    pivot = r;
                }
            }

            if (Math.Abs(m[(pivot * d) + col]) < 1e-300)
            {
                throw new TrainingInputException("The scorecard's regression is singular (a feature is constant or duplicates another); drop it or raise 'l2'.");
            }

            for (var k = 0; k < d; k++)
            {
                (m[(col * d) + k], m[(pivot * d) + k]) = (m[(pivot * d) + k], m[(col * d) + k]);
            }

            (v[col], v[pivot]) = (v[pivot], v[col]);
            for (var r = col + 1; r < d; r++)
            {
                var factor = m[(r * d) + col] / m[(col * d) + col];
                for (var k = col; k < d; k++)
                {
                    m[(r * d) + k] -= factor * m[(col * d) + k];
                }

                v[r] -= factor * v[col];
            }
        }

        var result = new double[d];
        for (var r = d - 1; r >= 0; r--)
        {
            var sum = v[r];
            for (var k = r + 1; k < d; k++)
            {
                sum -= m[(r * d) + k] * result[k];
            }

            result[r] = sum / m[(r * d) + r];
        }

        return result;
    }

    private sealed class Model : TrainedModel
    {
        private readonly Binning[] _bins;
        private readonly double[] _beta;
        private readonly double _intercept;
        private readonly double _offset;
        private readonly double _factor;
        private readonly ScorecardExport.FeatureBins[] _contributions;

        public Model(Binning[] bins, double[] beta, double intercept, double offset, double factor)
        {
            (_bins, _beta, _intercept, _offset, _factor) = (bins, beta, intercept, offset, factor);
            _contributions = bins.Select((b, j) => new ScorecardExport.FeatureBins(
                b.Thresholds, b.Woe.Select(w => (float)(beta[j] * w)).ToArray(), (float)(beta[j] * b.MissingWoe))).ToArray();
            Artifacts["scorecard.json"] = JsonSerializer.SerializeToUtf8Bytes(Table(), new JsonSerializerOptions(JsonSerializerDefaults.Web) { WriteIndented = true });
            ReportSection = Html();
            var share = (offset - (factor * intercept)) / bins.Length;
            Reasons = new ReasonModel
            {
                Method = "scorecard-points",
                Note = "each characteristic's points below its maximum, the largest first: the points the applicant lost there",
                Characteristics = [.. bins.Select((b, j) => new ReasonCharacteristic(b.Feature, b.Thresholds, [.. b.Woe.Append(b.MissingWoe).Select(w => share - (factor * beta[j] * w))]))],
            };
        }

        public override float[] Predict(TrainingTable table)
        {
            var result = new float[table.Rows];
            for (var r = 0; r < table.Rows; r++)
            {
                double logit = _intercept;
                for (var j = 0; j < table.Columns; j++)
                {
                    var bin = _bins[j].BinOf(table.X[(r * table.Columns) + j]);
                    logit += bin > _bins[j].Thresholds.Length ? _contributions[j].Missing : _contributions[j].Contributions[bin];
                }

                result[r] = (float)(1 / (1 + Math.Exp(-logit)));
            }

            return result;
        }

        public override byte[] ExportOnnx() =>
            ScorecardExport.Write(Features.Select(f => f.Name).ToList(), _contributions, (float)_intercept, (float)_offset, (float)_factor);

        private object Table() => new
        {
            pointsFormula = "score = offset - factor * logit(default); a bin's points = -factor * coefficient * WoE + (offset - factor * intercept) / features",
            offset = _offset,
            factor = _factor,
            intercept = _intercept,
            features = _bins.Select((b, j) => new
            {
                feature = b.Feature,
                coefficient = _beta[j],
                bins = Rows(j).Select(r => new { range = r.Range, rows = r.Rows, defaultRate = r.Rate, woe = r.Woe, points = r.Points }),
            }),
        };

        private IEnumerable<(string Range, int Rows, double Rate, double Woe, double Points)> Rows(int j)
        {
            var b = _bins[j];
            var share = (_offset - (_factor * _intercept)) / _bins.Length;
            string F(float v) => v.ToString("G6", CultureInfo.InvariantCulture);
            for (var i = 0; i <= b.Thresholds.Length; i++)
            {
                var range = (i == 0 ? "(-inf" : $"({F(b.Thresholds[i - 1])}") + ", " + (i == b.Thresholds.Length ? "inf)" : $"{F(b.Thresholds[i])}]");
                yield return (range, b.Rows[i], b.Rows[i] == 0 ? 0 : (double)b.Defaults[i] / b.Rows[i], b.Woe[i], Math.Round(share - (_factor * _beta[j] * b.Woe[i]), 1));
            }

            yield return ("missing", b.MissingRows, b.MissingRows == 0 ? 0 : (double)b.MissingDefaults / b.MissingRows, b.MissingWoe, Math.Round(share - (_factor * _beta[j] * b.MissingWoe), 1));
        }

        private string Html()
        {
            var html = new StringBuilder("<h2>Scorecard</h2><p>Points per bin; a row's score is the sum of its bins' points (higher = safer).</p><table><tr><th>Feature</th><th>Bin</th><th>Rows</th><th>Default rate</th><th>WoE</th><th>Points</th></tr>");
            for (var j = 0; j < _bins.Length; j++)
            {
                foreach (var r in Rows(j))
                {
                    html.Append(CultureInfo.InvariantCulture, $"<tr><td>{WebUtility.HtmlEncode(_bins[j].Feature)}</td><td>{WebUtility.HtmlEncode(r.Range)}</td><td>{r.Rows:N0}</td><td>{r.Rate:P2}</td><td>{r.Woe:0.000}</td><td>{r.Points:0.0}</td></tr>");
                }
            }

            return html.Append("</table>").ToString();
        }
    }
}
