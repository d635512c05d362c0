using System.Diagnostics;
using System.Globalization;

namespace FinServerless.Training;

/// <summary>One progress report: which step of how many, a metric and the time spent.</summary>
public sealed record ProgressUpdate(string Trainer, string Phase, int Step, int Total, string? Metric, double? Value, double ElapsedSeconds, string? Message = null)
{
    /// <summary>The line the trainer prints, for example <c>progress trainer=xgboost phase=train step=12/1000 valid_auc=0.861200 elapsed=3.2s</c>.</summary>
    public string ToLine()
    {
        var line = $"progress trainer={Trainer} phase={Phase} step={Step}/{Total}";
        if (Metric is not null && Value is { } v)
        {
            line += $" {Metric}={v.ToString("0.000000", CultureInfo.InvariantCulture)}";
        }

        line += $" elapsed={ElapsedSeconds.ToString("0.0", CultureInfo.InvariantCulture)}s";
        return Message is null ? line : $"{line} message=\"{Message.Replace('"', '\'')}\"";
    }
}

/// <summary>Reports training progress to a writer (one line per report) and to an optional listener (a status blob).</summary>
public sealed class TrainingProgress(TextWriter? output = null, Action<ProgressUpdate>? listener = null)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();

    /// <summary>Progress that goes nowhere.</summary>
    public static TrainingProgress None { get; } = new();

    /// <summary>The latest report.</summary>
    public ProgressUpdate? Latest { get; private set; }

    /// <summary>Seconds since the progress started.</summary>
    public double Elapsed => _clock.Elapsed.TotalSeconds;

    /// <summary>Reports a step.</summary>
    public void Report(string trainer, string phase, int step, int total, string? metric = null, double? value = null, string? message = null)
    {
        var update = new ProgressUpdate(trainer, phase, step, total, metric, value, Elapsed, message);
        Latest = update;
        output?.WriteLine(update.ToLine());
        listener?.Invoke(update);
    }
}
