using System.Text.Json;
using FinServerless.Datasets.Ingest;
using FinServerless.Training;

namespace FinServerless.Trainer;

/// <summary>
/// Writes the training status as JSON (state, latest progress, result or reason, exit code) so that an
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
            _pending = WriteAsync(new { state = "running", progress = update, line = update.ToLine() });
        }
    }

    public async Task FinishAsync(string state, object detail, int exitCode)
    {
        try
        {
            await _pending.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or Azure.RequestFailedException)
        {
            // A lost intermediate status does not matter; the final one is written below.
        }

        await WriteAsync(new { state, exitCode, progress = _latest, line = _latest?.ToLine(), detail }).ConfigureAwait(false);
    }

    private Task WriteAsync(object status) =>
        store.WriteAsync(path, JsonSerializer.SerializeToUtf8Bytes(status, new JsonSerializerOptions(JsonSerializerDefaults.Web)), "application/json", createOnly: false, CancellationToken.None);
}
