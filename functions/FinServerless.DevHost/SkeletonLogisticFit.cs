namespace FinServerless.DevHost;

/// <summary>
/// A small logistic-regression fit for the walking-skeleton demo (gradient descent on standardized features,
/// folded back into raw-feature weights). The training container replaces it with the real trainers.
/// </summary>
internal static class SkeletonLogisticFit
{
    public static (float[] Weights, float Bias) Fit(float[] data, float[] labels, int features, int iterations)
    {
        var f = features;
        var n = labels.Length;
        var mean = new double[f];
        var std = new double[f];
        for (var r = 0; r < n; r++)
        {
            for (var j = 0; j < f; j++)
            {
                mean[j] += data[(r * f) + j];
            }
        }

        for (var j = 0; j < f; j++)
        {
            mean[j] /= n;
        }

        for (var r = 0; r < n; r++)
        {
            for (var j = 0; j < f; j++)
            {
                var d = data[(r * f) + j] - mean[j];
                std[j] += d * d;
            }
        }

        for (var j = 0; j < f; j++)
        {
            std[j] = Math.Sqrt(std[j] / n) is var s && s > 0 ? s : 1;
        }

        var w = new double[f];
        double b = 0;
        var grad = new double[f];
        const double rate = 0.5;
        for (var it = 0; it < iterations; it++)
        {
            Array.Clear(grad);
            double gb = 0;
            for (var r = 0; r < n; r++)
            {
                double z = b;
                for (var j = 0; j < f; j++)
                {
                    z += w[j] * (data[(r * f) + j] - mean[j]) / std[j];
                }

                var err = (1 / (1 + Math.Exp(-z))) - labels[r];
                gb += err;
                for (var j = 0; j < f; j++)
                {
                    grad[j] += err * (data[(r * f) + j] - mean[j]) / std[j];
                }
            }

            b -= rate * gb / n;
            for (var j = 0; j < f; j++)
            {
                w[j] -= rate * grad[j] / n;
            }
        }

        var weights = new float[f];
        var bias = b;
        for (var j = 0; j < f; j++)
        {
            weights[j] = (float)(w[j] / std[j]);
            bias -= w[j] * mean[j] / std[j];
        }

        return (weights, (float)bias);
    }

    public static float Predict(ReadOnlySpan<float> row, ReadOnlySpan<float> weights, float bias)
    {
        double z = bias;
        for (var j = 0; j < row.Length; j++)
        {
            z += (double)row[j] * weights[j];
        }

        return (float)(1 / (1 + Math.Exp(-z)));
    }

    /// <summary>Area under the ROC curve by the rank-sum formula (ties averaged).</summary>
    public static double Auc(ReadOnlySpan<float> scores, ReadOnlySpan<float> labels)
    {
        var order = Enumerable.Range(0, scores.Length).ToArray();
        var s = scores.ToArray();
        Array.Sort(order, (a, c) => s[a].CompareTo(s[c]));
        double rankSum = 0;
        long positives = 0;
        var i = 0;
        while (i < order.Length)
        {
            var k = i;
            while (k + 1 < order.Length && s[order[k + 1]] == s[order[i]])
            {
                k++;
            }

            var rank = ((i + k) / 2.0) + 1;
            for (var m = i; m <= k; m++)
            {
                if (labels[order[m]] > 0.5f)
                {
                    rankSum += rank;
                    positives++;
                }
            }

            i = k + 1;
        }

        long negatives = order.Length - positives;
        return (rankSum - (positives * (positives + 1) / 2.0)) / (positives * (double)negatives);
    }
}
