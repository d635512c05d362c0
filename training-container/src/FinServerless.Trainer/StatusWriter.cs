using FinServerless.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Training;

namespace FinServerless.Trainer;

/// <summary>
/// Writes the job's <see cref="TrainingStatus"/> (state, latest progress, result or failure, exit code) so that an
/// orchestration can follow a job it cannot read the console of: at most once a second while running, always at the end.
/// </summary>
internal sealed class StatusWriter(IRunOutput store, string path)
{
    private readonly object _gate = new();
    private DateTime _lastWrite = DateTime.MinValue;
    private Task _pending = Task.CompletedTask;
    private ProgressUpdate? _latest;

    public void Update(ProgressUpdate update)
    {
        lock (_gate)
        {
            _latest = update;
            if ((DateTime.UtcNow - _lastWrite).TotalSeconds < 1 || !_pending.IsCompleted)
            {
                return;
            }

            _lastWrite = DateTime.UtcNow;
            _pending = WriteAsync(new TrainingStatus { State = JobState.Running, UpdatedAt = DateTimeOffset.UtcNow, Line = update.ToLine() });
        }
    }

    public async Task FinishAsync(JobState state, int exitCode, TrainingResult? result = null, TrainingFailure? failure = null)
    {
        try
        {
            await _pending.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or Azure.RequestFailedException)
        {
            // A lost intermediate status does not matter; the final one is written below.
        }

        await WriteAsync(new TrainingStatus { State = state, UpdatedAt = DateTimeOffset.UtcNow, ExitCode = exitCode, Line = _latest?.ToLine(), Result = result, Failure = failure }).ConfigureAwait(false);
    }

    private Task WriteAsync(TrainingStatus status) =>
        store.WriteAsync(path, status.ToJson(), "application/json", createOnly: false, CancellationToken.None);
}
