using System.Globalization;
using FinServerless.Training;

namespace FinServerless.Functions;

/// <summary>
/// TrainModel's settings, read and checked once when the app starts (<see cref="AppServices"/>): a bad value fails
/// the start with a message naming the setting, never an orchestration half-way.
/// </summary>
public sealed record TrainingOptions(string Device, double TimeoutMinutes, double PollSeconds, double PromotionMargin, DataMinimums Training, DataMinimums Promotion)
{
    /// <summary>The options from the app settings (defaults: cpu, 120 minutes, 30 seconds, margin 0.002, the default minimums).</summary>
    public static TrainingOptions From(AppSettings settings)
    {
        var device = settings.Get(AppSettings.TrainingDevice) ?? "cpu";
        if (device is not ("cpu" or "cuda"))
        {
            throw new InvalidOperationException($"Setting {AppSettings.TrainingDevice} is '{device}'; use cpu or cuda.");
        }

        try
        {
            return new TrainingOptions(
                device,
                settings.Number(AppSettings.TrainingTimeoutMinutes, 120, 1),
                settings.Number(AppSettings.TrainingPollSeconds, 30, 0.1),
                settings.Number(AppSettings.PromotionMargin, 0.002, 0),
                DataMinimums.Training(settings.Get),
                DataMinimums.Promotion(settings.Get));
        }
        catch (TrainingInputException ex)
        {
            throw new InvalidOperationException(ex.Message, ex);
        }
    }
}

/// <summary>ScoreBatch's limits, read and checked when the app starts.</summary>
public sealed record ScoreLimits(int MaxRows, long MaxBodyBytes)
{
    /// <summary>The limits from the app settings (defaults: 10,000 rows, 2 KiB per row).</summary>
    public static ScoreLimits From(AppSettings settings)
    {
        var rows = settings.Number(AppSettings.ScoreMaxRows, 10_000, 1);
        if (rows > int.MaxValue)
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture, $"Setting {AppSettings.ScoreMaxRows} must be at most {int.MaxValue} (got {rows})."));
        }

        return new ScoreLimits((int)rows, (long)settings.Number(AppSettings.ScoreMaxBodyBytes, 2048.0 * (int)rows, 1));
    }
}
