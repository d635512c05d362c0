using FinServerless.Training.Data;

namespace FinServerless.Training.Trainers;

/// <summary>
/// Input preparation fitted on training rows: impute the median, clip to the [q, 1 − q] quantiles, standardize.
/// Applied in float in the same order as the ONNX graph (Max, Min, Sub, Div) so both give identical inputs.
/// </summary>
public sealed record FeaturePreparation(float[] Median, float[] Low, float[] High, float[] Mean, float[] Scale)
{
    /// <summary>Fits the preparation on <paramref name="table"/>.</summary>
    public static FeaturePreparation Fit(TrainingTable table, double clipQuantile)
    {
        var f = table.Columns;
        var (median, low, high, mean, scale) = (new float[f], new float[f], new float[f], new float[f], new float[f]);
        for (var j = 0; j < f; j++)
        {
            var values = table.Column(j).Where(v => !float.IsNaN(v)).ToArray();
            Array.Sort(values);
            if (values.Length == 0)
            {
                (median[j], low[j], high[j], mean[j], scale[j]) = (0, 0, 0, 0, 1);
                continue;
            }

            median[j] = Quantile(values, 0.5);
            low[j] = Quantile(values, clipQuantile);
            high[j] = Quantile(values, 1 - clipQuantile);
            double sum = 0, squares = 0;
            var column = table.Column(j);
            foreach (var raw in column)
            {
                var v = Prepare(raw, median[j], low[j], high[j]);
                sum += v;
                squares += (double)v * v;
            }

            var m = sum / column.Length;
            var sd = Math.Sqrt(Math.Max(0, (squares / column.Length) - (m * m)));
            mean[j] = (float)m;
            scale[j] = sd > 1e-12 ? (float)sd : 1f;
        }

        return new FeaturePreparation(median, low, high, mean, scale);
    }

    /// <summary>The prepared (imputed, clipped, standardized) matrix.</summary>
    public float[] Apply(TrainingTable table)
    {
        var f = table.Columns;
        var result = new float[table.X.Length];
        for (var i = 0; i < result.Length; i++)
        {
            var j = i % f;
            result[i] = (Prepare(table.X[i], Median[j], Low[j], High[j]) - Mean[j]) / Scale[j];
        }

        return result;
    }

    private static float Prepare(float raw, float median, float low, float high) =>
        MathF.Min(MathF.Max(float.IsNaN(raw) ? median : raw, low), high);

    /// <summary>Linear-interpolated quantile of sorted values (numpy's default).</summary>
    public static float Quantile(float[] sorted, double q)
    {
        var position = q * (sorted.Length - 1);
        var lower = (int)Math.Floor(position);
        var upper = Math.Min(lower + 1, sorted.Length - 1);
        return (float)(sorted[lower] + ((position - lower) * (sorted[upper] - sorted[lower])));
    }
}
