using FinServerless.Durable.Protocol;
using Google.Protobuf.WellKnownTypes;

namespace FinServerless.Durable.Orchestration;

/// <summary>An orchestrator: takes the context, returns the orchestration's output.</summary>
public delegate Task<object?> Orchestrator(TaskOrchestrationContext context);

/// <summary>Executor settings.</summary>
public sealed record OrchestrationExecutorOptions
{
    /// <summary>Timers longer than this are split into several (the Durable Task SDKs use 3 days).</summary>
    public TimeSpan MaximumTimerInterval { get; init; } = TimeSpan.FromDays(3);

    /// <summary>Receives the orchestrator's log lines (never called while replaying).</summary>
    public Action<string>? Log { get; init; }
}

/// <summary>
/// The replay executor: an <see cref="OrchestratorRequest"/> in (past and new history), an
/// <see cref="OrchestratorResponse"/> out (the actions the code takes that history does not yet record,
/// the custom status, and the completion when the orchestrator is done).
/// </summary>
public static class OrchestrationExecutor
{
    /// <summary>Replays the request's history through <paramref name="orchestrator"/> and returns the new actions.</summary>
    public static OrchestratorResponse Execute(OrchestratorRequest request, Orchestrator orchestrator, OrchestrationExecutorOptions? options = null)
    {
        var context = new ReplayContext(request.InstanceId, orchestrator, options ?? new OrchestrationExecutorOptions());
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(context.Sync);
        try
        {
            context.Replay(request.PastEvents, replaying: true);
            context.Replay(request.NewEvents, replaying: false);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }

        return context.BuildResponse();
    }

    /// <summary>Handles the Functions host's orchestration trigger: base64 protobuf request in, base64 protobuf response out.</summary>
    public static string ExecuteBase64(string base64Request, Orchestrator orchestrator, OrchestrationExecutorOptions? options = null)
    {
        OrchestratorRequest request;
        try
        {
            request = OrchestratorRequest.Parser.ParseFrom(Convert.FromBase64String(base64Request));
        }
        catch (Exception ex) when (ex is FormatException or Google.Protobuf.InvalidProtocolBufferException)
        {
            throw new ArgumentException($"The orchestration trigger's value is not a base64 protobuf OrchestratorRequest: {ex.Message}", nameof(base64Request), ex);
        }

        return Convert.ToBase64String(Google.Protobuf.MessageExtensions.ToByteArray(Execute(request, orchestrator, options)));
    }

    internal static Timestamp ToTimestamp(DateTime utc) => Timestamp.FromDateTime(DateTime.SpecifyKind(utc, DateTimeKind.Utc));
}
