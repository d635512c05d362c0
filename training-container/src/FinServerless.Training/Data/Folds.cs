namespace FinServerless.Training.Data;

/// <summary>Deterministic stratified splits: the same labels and seed give the same folds on every machine.</summary>
public static class Folds
{
    /// <summary>A fold number in [0, k) per row, with each class spread evenly over the folds.</summary>
    public static int[] Stratified(IReadOnlyList<float> labels, int k, int seed)
    {
        if (k < 2)
        {
            throw new TrainingInputException($"Cross-validation needs at least 2 folds (got {k}).");
        }

        var fold = new int[labels.Count];
        var random = new Random(seed);
        foreach (var cls in new[] { 0f, 1f })
        {
            var rows = Enumerable.Range(0, labels.Count).Where(i => labels[i] == cls).ToArray();
            random.Shuffle(rows);
            for (var i = 0; i < rows.Length; i++)
            {
                fold[rows[i]] = i % k;
            }
        }

        return fold;
    }

    /// <summary>One cross-validation fold: rows to fit on, rows for early stopping, rows to test on (indices into the table).</summary>
    public sealed record FoldPlan(int[] Fit, int[] Stop, int[] Test);

    /// <summary>
    /// The K folds of a stratified cross-validation, each with its early-stopping rows (a stratified
    /// <paramref name="stopShare"/> of the fold's training rows); written out, it lets another tool use the very same rows.
    /// </summary>
    public static IReadOnlyList<FoldPlan> Plan(IReadOnlyList<float> labels, int k, int seed, double stopShare)
    {
        var folds = Stratified(labels, k, seed);
        return Enumerable.Range(0, k).Select(fold =>
        {
            var train = Enumerable.Range(0, labels.Count).Where(i => folds[i] != fold).ToArray();
            var (fit, stop) = Split(labels, train, stopShare, seed + 1);
            return new FoldPlan(fit, stop, Enumerable.Range(0, labels.Count).Where(i => folds[i] == fold).ToArray());
        }).ToList();
    }

    /// <summary>A stratified split of the given rows into (train, holdout) with about <paramref name="holdoutShare"/> held out.</summary>
    public static (int[] Train, int[] Holdout) Split(IReadOnlyList<float> labels, IReadOnlyList<int> rows, double holdoutShare, int seed)
    {
        if (holdoutShare is <= 0 or >= 1)
        {
            throw new TrainingInputException($"A holdout share must be between 0 and 1 (got {holdoutShare}).");
        }

        var random = new Random(seed);
        var train = new List<int>();
        var holdout = new List<int>();
        foreach (var cls in new[] { 0f, 1f })
        {
            var members = rows.Where(r => labels[r] == cls).ToArray();
            random.Shuffle(members);
            var cut = (int)Math.Round(members.Length * holdoutShare);
            holdout.AddRange(members[..cut]);
            train.AddRange(members[cut..]);
        }

        train.Sort();
        holdout.Sort();
        return ([.. train], [.. holdout]);
    }
}
