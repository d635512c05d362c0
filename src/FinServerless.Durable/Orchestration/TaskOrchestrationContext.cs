using System.Text.Json;

namespace FinServerless.Durable.Orchestration;

/// <summary>
/// What an orchestrator may use. Everything that could differ between replays — time, ids, inputs, results —
/// comes from here, so the code is deterministic: no DateTime.Now, no Guid.NewGuid, no I/O in orchestrators.
/// </summary>
public abstract class TaskOrchestrationContext
{
    /// <summary>The orchestration's name.</summary>
    public abstract string Name { get; }

    /// <summary>The instance id.</summary>
    public abstract string InstanceId { get; }

    /// <summary>The time of the current step, from history (the same on every replay).</summary>
    public abstract DateTime CurrentUtcDateTime { get; }

    /// <summary>Whether the code is replaying history (side effects such as logging should be skipped).</summary>
    public abstract bool IsReplaying { get; }

    /// <summary>The orchestration's input.</summary>
    public abstract T? GetInput<T>();

    /// <summary>Schedules an activity and returns its result.</summary>
    public abstract Task<T> CallActivityAsync<T>(string name, object? input = null, TaskOptions? options = null);

    /// <summary>Schedules an activity that returns nothing.</summary>
    public Task CallActivityAsync(string name, object? input = null, TaskOptions? options = null) =>
        CallActivityAsync<JsonElement?>(name, input, options);

    /// <summary>Starts a sub-orchestration and returns its result.</summary>
    public abstract Task<T> CallSubOrchestratorAsync<T>(string name, object? input = null, string? instanceId = null, TaskOptions? options = null);

    /// <summary>A durable timer; long timers are split into bounded intervals.</summary>
    public abstract Task CreateTimer(DateTime fireAtUtc, CancellationToken cancellationToken = default);

    /// <summary>A durable timer that fires after <paramref name="delay"/>.</summary>
    public Task CreateTimer(TimeSpan delay, CancellationToken cancellationToken = default) => CreateTimer(CurrentUtcDateTime + delay, cancellationToken);

    /// <summary>Waits for an external event (names match case-insensitively; events that arrive early are buffered).</summary>
    public abstract Task<T> WaitForExternalEvent<T>(string name, TimeSpan? timeout = null);

    /// <summary>Restarts the orchestration with new input once this execution ends (keeping unprocessed events).</summary>
    public abstract void ContinueAsNew(object? newInput);

    /// <summary>Sets the status shown by the status API (for example a trainer's progress).</summary>
    public abstract void SetCustomStatus(object? status);

    /// <summary>A deterministic GUID (the same on every replay).</summary>
    public abstract Guid NewGuid();

    /// <summary>Writes a log line only when not replaying.</summary>
    public abstract void Log(string message);
}
