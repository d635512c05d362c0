using FinServerless.Training;
using FinServerless.Training.Data;

namespace FinServerless.Functions.Functions;

/// <summary>
/// TrainModel's minimums (<see cref="DataMinimums"/>): how much data it trains on, and how many held-out rows of each
/// class a promotion is decided on. Below a minimum, training fails with the reason and a promotion is not made.
/// </summary>
public static class TrainingGuards
{
    /// <summary>The training minimums from the app's settings.</summary>
    public static DataMinimums Training(AppServices app) => DataMinimums.Training(app.Settings.Get);

    /// <summary>The promotion minimums from the app's settings.</summary>
    public static DataMinimums Promotion(AppServices app) => DataMinimums.Promotion(app.Settings.Get);

    /// <summary>Refuses, before any job starts, a curated run with fewer rows than training needs (classes are the trainer's to count).</summary>
    /// <exception cref="InvalidOperationException">The run is below the minimum; the message names it, the counts and the setting.</exception>
    public static void RequireTrainingRows(AppServices app, string runManifest, long rows)
    {
        if (Training(app).CheckRows(rows, $"the curated run {runManifest}") is { } missed)
        {
            throw new InvalidOperationException($"TrainModel refused: {missed.Reason}. Ingest more data, or lower {missed.Setting}.");
        }
    }

    /// <summary>Passes the training minimums on to the training job, which counts the classes and refuses below them.</summary>
    public static void AddTrainerSettings(AppServices app, IDictionary<string, string> environment)
    {
        var minimums = Training(app);
        environment[minimums.RowsSetting] = minimums.Rows.ToString(System.Globalization.CultureInfo.InvariantCulture);
        environment[minimums.ClassRowsSetting] = minimums.ClassRows.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The promotion minimum the held-out rows miss, or null when a promotion may be decided on them.</summary>
    public static MinimumNotMet? PromotionMinimumNotMet(AppServices app, TrainingTable heldOut, string runManifest) =>
        Promotion(app).Check(heldOut.Rows, heldOut.Positives, $"the held-out evaluation rows of {runManifest}");

    /// <summary>The decision when the held-out rows are below a promotion minimum: no promotion, the champion stays.</summary>
    public static PromotionDecision NoPromotion(PreparedTraining job, double candidateAuc, string? championVersion, double margin, MinimumNotMet missed, TrainingTable heldOut) => new(
        job.Model, job.Version, double.IsFinite(candidateAuc) ? candidateAuc : null, championVersion, null, margin, false,
        $"not promoted: {missed.Reason}; {(championVersion is null ? "there is still no champion" : $"the champion stays {championVersion}")}",
        heldOut.Rows, heldOut.Positives, missed);
}
