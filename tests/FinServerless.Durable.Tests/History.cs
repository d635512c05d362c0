using FinServerless.Durable.Protocol;
using Google.Protobuf.WellKnownTypes;

namespace FinServerless.Durable.Tests;

/// <summary>Builds recorded histories the way the Durable extension writes them.</summary>
internal static class History
{
    public static readonly DateTime T0 = new(2026, 11, 22, 9, 0, 0, DateTimeKind.Utc);

    private static Timestamp Ts(DateTime t) => Timestamp.FromDateTime(t);

    public static HistoryEvent Started(DateTime? at = null) => new() { EventId = -1, Timestamp = Ts(at ?? T0), OrchestratorStarted = new() };

    public static HistoryEvent Execution(string name, string? input) => new()
    {
        EventId = -1,
        Timestamp = Ts(T0),
        ExecutionStarted = input is null ? new ExecutionStartedEvent { Name = name } : new ExecutionStartedEvent { Name = name, Input = input },
    };

    public static HistoryEvent Scheduled(int id, string name) => new() { EventId = id, Timestamp = Ts(T0), TaskScheduled = new TaskScheduledEvent { Name = name } };

    public static HistoryEvent Completed(int id, string? result) => new()
    {
        EventId = -1,
        Timestamp = Ts(T0),
        TaskCompleted = result is null ? new TaskCompletedEvent { TaskScheduledId = id } : new TaskCompletedEvent { TaskScheduledId = id, Result = result },
    };

    public static HistoryEvent Failed(int id, string type, string message) => new()
    {
        EventId = -1,
        Timestamp = Ts(T0),
        TaskFailed = new TaskFailedEvent { TaskScheduledId = id, FailureDetails = new TaskFailureDetails { ErrorType = type, ErrorMessage = message } },
    };

    public static HistoryEvent TimerCreated(int id, DateTime fireAt) => new() { EventId = id, Timestamp = Ts(T0), TimerCreated = new TimerCreatedEvent { FireAt = Ts(fireAt) } };

    public static HistoryEvent TimerFired(int id, DateTime fireAt) => new() { EventId = -1, Timestamp = Ts(fireAt), TimerFired = new TimerFiredEvent { TimerId = id, FireAt = Ts(fireAt) } };

    public static HistoryEvent Raised(string name, string? input) => new()
    {
        EventId = -1,
        Timestamp = Ts(T0),
        EventRaised = input is null ? new EventRaisedEvent { Name = name } : new EventRaisedEvent { Name = name, Input = input },
    };

    public static OrchestratorRequest Request(IEnumerable<HistoryEvent> past, IEnumerable<HistoryEvent> @new)
    {
        var request = new OrchestratorRequest { InstanceId = "instance-1" };
        request.PastEvents.AddRange(past);
        request.NewEvents.AddRange(@new);
        return request;
    }
}
