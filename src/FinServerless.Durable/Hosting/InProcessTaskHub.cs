using System.Text.Json;
using FinServerless.Durable.Orchestration;
using FinServerless.Durable.Protocol;
using Google.Protobuf.WellKnownTypes;

namespace FinServerless.Durable.Hosting;

/// <summary>An activity: JSON input in, JSON output out (null for none).</summary>
public delegate Task<string?> Activity(string? input);

/// <summary>The final state of an orchestration run in process.</summary>
public sealed record OrchestrationRun(string InstanceId, OrchestrationStatus Status, string? Output, TaskFailureDetails? Failure, string? CustomStatus, IReadOnlyList<HistoryEvent> History, int Episodes)
{
    /// <summary>The output, deserialized.</summary>
    public T? OutputAs<T>() => Output is null ? default : JsonSerializer.Deserialize<T>(Output, new JsonSerializerOptions(JsonSerializerDefaults.Web));
}

/// <summary>
/// Runs orchestrations entirely in memory, playing the backend's part the way the Durable extension does:
/// it records each episode's actions in history, runs activities, fires timers on a virtual clock, delivers
/// raised events and restarts on continue-as-new. A whole orchestration runs in milliseconds, through the
/// same executor and protobuf messages as in production.
/// </summary>
public sealed class InProcessTaskHub(OrchestrationExecutorOptions? options = null)
{
    private readonly Dictionary<string, Orchestrator> _orchestrators = new(StringComparer.OrdinalIgnoreCase);
    private readonly Dictionary<string, Activity> _activities = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<(DateTime At, string InstanceId, string Name, string? Input)> _events = [];

    /// <summary>The virtual clock's start.</summary>
    public DateTime Start { get; init; } = new(2026, 11, 22, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>Episodes after which a run is considered stuck.</summary>
    public int MaxEpisodes { get; init; } = 100_000;

    /// <summary>Registers an orchestrator.</summary>
    public InProcessTaskHub Orchestration(string name, Orchestrator orchestrator)
    {
        _orchestrators[name] = orchestrator;
        return this;
    }

    /// <summary>Registers an activity taking and returning JSON.</summary>
    public InProcessTaskHub Activity(string name, Activity activity)
    {
        _activities[name] = activity;
        return this;
    }

    /// <summary>Registers a typed activity.</summary>
    public InProcessTaskHub Activity<TIn, TOut>(string name, Func<TIn, Task<TOut>> activity)
    {
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        _activities[name] = async input => JsonSerializer.Serialize(await activity(input is null ? default! : JsonSerializer.Deserialize<TIn>(input, json)!), json);
        return this;
    }

    /// <summary>Raises an event to an instance at a virtual time (delivered when the clock reaches it).</summary>
    public InProcessTaskHub RaiseEventAt(DateTime at, string instanceId, string name, object? input)
    {
        _events.Add((at, instanceId, name, input is null ? null : JsonSerializer.Serialize(input, new JsonSerializerOptions(JsonSerializerDefaults.Web))));
        return this;
    }

    /// <summary>Runs an orchestration until it completes, fails, or waits for something that never comes.</summary>
    public async Task<OrchestrationRun> RunAsync(string name, object? input = null, string? instanceId = null)
    {
        var json = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        return await RunCoreAsync(name, input is null ? null : JsonSerializer.Serialize(input, json), instanceId ?? $"{name}-{Guid.NewGuid():N}", Start).ConfigureAwait(false);
    }

    private async Task<OrchestrationRun> RunCoreAsync(string name, string? input, string instanceId, DateTime clock)
    {
        if (!_orchestrators.TryGetValue(name, out var orchestrator))
        {
            throw new InvalidOperationException($"No orchestrator named '{name}' is registered.");
        }

        var history = new List<HistoryEvent>();
        var newEvents = new List<HistoryEvent> { Started(clock), new() { EventId = -1, Timestamp = Ts(clock), ExecutionStarted = Execution(name, input, instanceId) } };
        var timers = new List<(DateTime FireAt, int Id)>();
        string? customStatus = null;
        for (var episode = 1; episode <= MaxEpisodes; episode++)
        {
            var request = new OrchestratorRequest { InstanceId = instanceId };
            request.PastEvents.AddRange(history);
            request.NewEvents.AddRange(newEvents);
            var response = OrchestrationExecutor.Execute(request, orchestrator, options);
            customStatus = response.CustomStatus ?? customStatus;
            history.AddRange(newEvents);
            history.Add(new HistoryEvent { EventId = -1, Timestamp = Ts(clock), OrchestratorCompleted = new OrchestratorCompletedEvent() });
            newEvents = [];

            foreach (var action in response.Actions)
            {
                switch (action.OrchestratorActionTypeCase)
                {
                    case OrchestratorAction.OrchestratorActionTypeOneofCase.ScheduleTask:
                        var task = action.ScheduleTask;
                        history.Add(new HistoryEvent { EventId = action.Id, Timestamp = Ts(clock), TaskScheduled = new TaskScheduledEvent { Name = task.Name, Input = task.Input } });
                        newEvents.Add(await RunActivityAsync(action.Id, task.Name, task.Input, clock).ConfigureAwait(false));
                        break;
                    case OrchestratorAction.OrchestratorActionTypeOneofCase.CreateTimer:
                        history.Add(new HistoryEvent { EventId = action.Id, Timestamp = Ts(clock), TimerCreated = new TimerCreatedEvent { FireAt = action.CreateTimer.FireAt } });
                        timers.Add((action.CreateTimer.FireAt.ToDateTime(), action.Id));
                        break;
                    case OrchestratorAction.OrchestratorActionTypeOneofCase.CreateSubOrchestration:
                        var sub = action.CreateSubOrchestration;
                        history.Add(new HistoryEvent { EventId = action.Id, Timestamp = Ts(clock), SubOrchestrationInstanceCreated = new SubOrchestrationInstanceCreatedEvent { Name = sub.Name, InstanceId = sub.InstanceId, Input = sub.Input } });
                        var child = await RunCoreAsync(sub.Name, sub.Input, sub.InstanceId, clock).ConfigureAwait(false);
                        newEvents.Add(child.Status == OrchestrationStatus.Completed
                            ? new HistoryEvent { EventId = -1, Timestamp = Ts(clock), SubOrchestrationInstanceCompleted = new SubOrchestrationInstanceCompletedEvent { TaskScheduledId = action.Id, Result = child.Output } }
                            : new HistoryEvent { EventId = -1, Timestamp = Ts(clock), SubOrchestrationInstanceFailed = new SubOrchestrationInstanceFailedEvent { TaskScheduledId = action.Id, FailureDetails = child.Failure ?? new TaskFailureDetails { ErrorType = "SubOrchestrationFailed", ErrorMessage = child.Status.ToString() } } });
                        break;
                    case OrchestratorAction.OrchestratorActionTypeOneofCase.CompleteOrchestration:
                        var complete = action.CompleteOrchestration;
                        if (complete.OrchestrationStatus == OrchestrationStatus.ContinuedAsNew)
                        {
                            history = [];
                            timers.Clear();
                            newEvents = [Started(clock), new() { EventId = -1, Timestamp = Ts(clock), ExecutionStarted = Execution(name, complete.Result, instanceId) }];
                            newEvents.AddRange(complete.CarryoverEvents);
                            goto nextEpisode;
                        }

                        history.Add(new HistoryEvent { EventId = -1, Timestamp = Ts(clock), ExecutionCompleted = new ExecutionCompletedEvent { OrchestrationStatus = complete.OrchestrationStatus, Result = complete.Result, FailureDetails = complete.FailureDetails } });
                        return new OrchestrationRun(instanceId, complete.OrchestrationStatus, complete.Result, complete.FailureDetails, customStatus, history, episode);
                    default:
                        throw new NotSupportedException($"Action {action.OrchestratorActionTypeCase} is not supported by the Durable extension's passthrough protocol.");
                }
            }

            if (newEvents.Count == 0)
            {
                // Nothing completed at once: advance the virtual clock to the next timer or raised event.
                var nextTimer = timers.Count == 0 ? DateTime.MaxValue : timers.Min(t => t.FireAt);
                var due = _events.Where(e => e.InstanceId == instanceId).OrderBy(e => e.At).FirstOrDefault();
                var nextEvent = due.InstanceId is null ? DateTime.MaxValue : due.At;
                if (nextTimer == DateTime.MaxValue && nextEvent == DateTime.MaxValue)
                {
                    return new OrchestrationRun(instanceId, OrchestrationStatus.Running, null, null, customStatus, history, episode);
                }

                if (nextEvent <= nextTimer)
                {
                    clock = nextEvent > clock ? nextEvent : clock;
                    _events.Remove(due);
                    newEvents.Add(new HistoryEvent { EventId = -1, Timestamp = Ts(clock), EventRaised = new EventRaisedEvent { Name = due.Name, Input = due.Input } });
                }
                else
                {
                    clock = nextTimer > clock ? nextTimer : clock;
                    foreach (var t in timers.Where(t => t.FireAt <= clock).ToList())
                    {
                        timers.Remove(t);
                        newEvents.Add(new HistoryEvent { EventId = -1, Timestamp = Ts(clock), TimerFired = new TimerFiredEvent { TimerId = t.Id, FireAt = Ts(t.FireAt) } });
                    }
                }
            }

            newEvents.Insert(0, Started(clock));
        nextEpisode:;
        }

        throw new InvalidOperationException($"Orchestration '{name}' ({instanceId}) did not finish within {MaxEpisodes} episodes.");
    }

    private async Task<HistoryEvent> RunActivityAsync(int id, string name, string? input, DateTime clock)
    {
        if (!_activities.TryGetValue(name, out var activity))
        {
            return Failed(id, clock, "ActivityNotFound", $"No activity named '{name}' is registered.");
        }

        try
        {
            var result = await activity(input).ConfigureAwait(false);
            var completed = new TaskCompletedEvent { TaskScheduledId = id };
            if (result is not null)
            {
                completed.Result = result;
            }

            return new HistoryEvent { EventId = -1, Timestamp = Ts(clock), TaskCompleted = completed };
        }
        catch (Exception ex)
        {
            return Failed(id, clock, ex.GetType().FullName ?? ex.GetType().Name, ex.Message);
        }
    }

    private static HistoryEvent Failed(int id, DateTime clock, string type, string message) =>
        new() { EventId = -1, Timestamp = Ts(clock), TaskFailed = new TaskFailedEvent { TaskScheduledId = id, FailureDetails = new TaskFailureDetails { ErrorType = type, ErrorMessage = message } } };

    private static HistoryEvent Started(DateTime clock) => new() { EventId = -1, Timestamp = Ts(clock), OrchestratorStarted = new OrchestratorStartedEvent() };

    private static ExecutionStartedEvent Execution(string name, string? input, string instanceId)
    {
        var started = new ExecutionStartedEvent { Name = name, OrchestrationInstance = new OrchestrationInstance { InstanceId = instanceId } };
        if (input is not null)
        {
            started.Input = input;
        }

        return started;
    }

    private static Timestamp Ts(DateTime t) => Timestamp.FromDateTime(DateTime.SpecifyKind(t, DateTimeKind.Utc));
}
