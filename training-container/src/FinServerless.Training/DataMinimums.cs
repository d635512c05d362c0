using System.Globalization;

namespace FinServerless.Training;

/// <summary>A minimum the data did not meet: the setting that holds it, what it requires, what was found, and the sentence to show.</summary>
public sealed record MinimumNotMet(string Setting, long Required, long Found, string Reason);

/// <summary>
/// How much labelled data a step needs: at least <see cref="Rows"/> rows and at least <see cref="ClassRows"/> rows of
/// each class (defaults and non-defaults). Training has its minimums (<c>FINSERVERLESS_TRAIN_MIN_ROWS</c>, default
/// 1,000; <c>FINSERVERLESS_TRAIN_MIN_CLASS_ROWS</c>, default 50), and so does deciding a promotion on the held-out rows
/// (<c>FINSERVERLESS_PROMOTION_MIN_ROWS</c>, default 200; <c>FINSERVERLESS_PROMOTION_MIN_CLASS_ROWS</c>, default 50):
/// below them an AUC says too little to act on. 0 turns a minimum off.
/// </summary>
public sealed record DataMinimums(long Rows, long ClassRows, string RowsSetting, string ClassRowsSetting, string Purpose)
{
    /// <summary>Setting: fewest labelled rows to train on.</summary>
    public const string TrainMinRowsSetting = "FINSERVERLESS_TRAIN_MIN_ROWS";

    /// <summary>Setting: fewest rows of each class to train on.</summary>
    public const string TrainMinClassRowsSetting = "FINSERVERLESS_TRAIN_MIN_CLASS_ROWS";

    /// <summary>Setting: fewest held-out rows on which a promotion may be decided.</summary>
    public const string PromotionMinRowsSetting = "FINSERVERLESS_PROMOTION_MIN_ROWS";

    /// <summary>Setting: fewest held-out rows of each class on which a promotion may be decided.</summary>
    public const string PromotionMinClassRowsSetting = "FINSERVERLESS_PROMOTION_MIN_CLASS_ROWS";

    /// <summary>Default training minimums: 1,000 rows, 50 of each class.</summary>
    public static DataMinimums DefaultTraining { get; } = new(1_000, 50, TrainMinRowsSetting, TrainMinClassRowsSetting, "train a model");

    /// <summary>Default promotion minimums: 200 held-out rows, 50 of each class.</summary>
    public static DataMinimums DefaultPromotion { get; } = new(200, 50, PromotionMinRowsSetting, PromotionMinClassRowsSetting, "decide a promotion");

    /// <summary>No minimums (tests of the engines themselves).</summary>
    public static DataMinimums None { get; } = DefaultTraining with { Rows = 0, ClassRows = 0 };

    /// <summary>The training minimums from settings (unset: the defaults).</summary>
    /// <exception cref="TrainingInputException">A setting is not a whole number ≥ 0; the message names it.</exception>
    public static DataMinimums Training(Func<string, string?> settings) => DefaultTraining.From(settings);

    /// <summary>The promotion minimums from settings (unset: the defaults).</summary>
    /// <exception cref="TrainingInputException">A setting is not a whole number ≥ 0; the message names it.</exception>
    public static DataMinimums Promotion(Func<string, string?> settings) => DefaultPromotion.From(settings);

    /// <summary>These minimums with any value <paramref name="settings"/> gives for their settings.</summary>
    public DataMinimums From(Func<string, string?> settings) =>
        this with { Rows = Read(settings, RowsSetting, Rows), ClassRows = Read(settings, ClassRowsSetting, ClassRows) };

    /// <summary>The first minimum that <paramref name="rows"/> rows with <paramref name="positives"/> defaults miss, or null; <paramref name="what"/> names the data.</summary>
    public MinimumNotMet? Check(long rows, long positives, string what) => CheckRows(rows, what) ?? CheckClasses(rows, positives, what);

    /// <summary>The row minimum, when <paramref name="rows"/> misses it; null otherwise.</summary>
    public MinimumNotMet? CheckRows(long rows, string what) =>
        rows < Rows
            ? new MinimumNotMet(RowsSetting, Rows, rows, string.Create(CultureInfo.InvariantCulture,
                $"{what} has {rows:N0} rows, fewer than the {Rows:N0} required to {Purpose} (setting {RowsSetting}={Rows})"))
            : null;

    /// <summary>The class minimum, when the smaller class of <paramref name="rows"/> rows with <paramref name="positives"/> defaults misses it; null otherwise.</summary>
    public MinimumNotMet? CheckClasses(long rows, long positives, string what)
    {
        var smaller = Math.Min(positives, rows - positives);
        if (smaller < ClassRows)
        {
            return new MinimumNotMet(ClassRowsSetting, ClassRows, smaller, string.Create(CultureInfo.InvariantCulture,
                $"{what} has {positives:N0} defaults (target 1) and {rows - positives:N0} non-defaults (target 0), fewer than the {ClassRows:N0} of each class required to {Purpose} (setting {ClassRowsSetting}={ClassRows})"));
        }

        return null;
    }

    /// <summary>Throws <see cref="InsufficientDataException"/> when <see cref="Check"/> finds a minimum missed.</summary>
    public void Require(long rows, long positives, string what)
    {
        if (Check(rows, positives, what) is { } missed)
        {
            throw new InsufficientDataException(missed);
        }
    }

    private static long Read(Func<string, string?> settings, string name, long fallback) =>
        settings(name) is not { Length: > 0 } text ? fallback
        : long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value
        : throw new TrainingInputException($"Setting {name} must be a whole number ≥ 0 (got '{text}').");
}
