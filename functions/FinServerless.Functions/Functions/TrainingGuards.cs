using FinServerless.Training;

namespace FinServerless.Functions.Functions;

/// <summary>
/// TrainModel's check before a job starts (<see cref="DataMinimums"/>): a curated run with fewer rows than training
/// needs is refused with the reason. The classes are counted by the trainer, which gets the minimums in its job file.
/// </summary>
public static class TrainingGuards
{
    /// <summary>Refuses, before any job starts, a curated run with fewer rows than training needs.</summary>
    /// <exception cref="InvalidOperationException">The run is below the minimum; the message names it, the counts and the setting.</exception>
    public static void RequireTrainingRows(DataMinimums minimums, string runManifest, long rows)
    {
        if (minimums.CheckRows(rows, $"the curated run {runManifest}") is { } missed)
        {
            throw new InvalidOperationException($"TrainModel refused: {missed.Reason}. Ingest more data, or lower {missed.Setting}.");
        }
    }
}
