using FinServerless.Training.Data;
using FinServerless.Training.Evaluation;

namespace FinServerless.Training.Tests;

public sealed class MetricsTests
{
    [Fact]
    public void Auc_counts_pairs_and_half_credits_ties()
    {
        // Pairs (positive, negative): (0.8,0.1) (0.8,0.4) (0.8,0.4) (0.4,0.1) (0.4,0.4) (0.4,0.4) → 1+1+1+1+½+½ = 5 of 6.
        float[] p = [0.1f, 0.4f, 0.4f, 0.8f, 0.4f];
        float[] y = [0, 0, 0, 1, 1];
        Assert.Equal(5.0 / 6, Metrics.Auc(p, y), 12);
    }

    [Fact]
    public void Evaluate_gives_ks_gini_log_loss_brier_and_tables()
    {
        float[] p = [0.9f, 0.8f, 0.3f, 0.2f];
        float[] y = [1, 0, 1, 0];
        var e = Metrics.Evaluate(p, y);
        Assert.Equal(0.75, e.Auc, 12);
        Assert.Equal(0.5, e.Gini, 12);
        Assert.Equal(0.5, e.Ks, 12); // after the first row: TPR 0.5, FPR 0
        Assert.Equal((-Math.Log(0.9) - Math.Log(0.2) - Math.Log(0.3) - Math.Log(0.8)) / 4, e.LogLoss, 6);
        Assert.Equal(((0.01) + (0.64) + (0.49) + (0.04)) / 4, e.Brier, 6);
        Assert.Equal(4, e.Calibration.Sum(c => c.Rows));
        Assert.Equal(4, e.Bands.Sum(b => b.Rows));
        Assert.Equal(1.0, e.Roc[^1].Y, 12);
    }

    [Fact]
    public void Stratified_folds_are_deterministic_and_balanced()
    {
        var labels = Enumerable.Range(0, 1000).Select(i => i % 10 == 0 ? 1f : 0f).ToArray();
        var a = Folds.Stratified(labels, 5, 7);
        Assert.Equal(a, Folds.Stratified(labels, 5, 7));
        Assert.NotEqual(a, Folds.Stratified(labels, 5, 8));
        for (var k = 0; k < 5; k++)
        {
            Assert.Equal(200, a.Count(f => f == k));
            Assert.Equal(20, Enumerable.Range(0, 1000).Count(i => a[i] == k && labels[i] == 1));
        }

        var plan = Folds.Plan(labels, 5, 7, 0.1);
        foreach (var fold in plan)
        {
            Assert.Empty(fold.Fit.Intersect(fold.Stop));
            Assert.Empty(fold.Fit.Concat(fold.Stop).Intersect(fold.Test));
            Assert.Equal(1000, fold.Fit.Length + fold.Stop.Length + fold.Test.Length);
            Assert.Equal(8, fold.Stop.Count(i => labels[i] == 1)); // 10% of 80 positives
        }
    }
}
