using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FinServerless.Durable.Protocol;
using Google.Protobuf.Collections;

namespace FinServerless.Durable.Orchestration;

/// <summary>The orchestration context during one execution: replays history, records new actions.</summary>
internal sealed class ReplayContext(string instanceId, Orchestrator orchestrator, OrchestrationExecutorOptions options) : TaskOrchestrationContext
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly SortedDictionary<int, OrchestratorAction> _pending = [];
    private readonly Dictionary<int, (string Name, TaskCompletionSource<string?> Source)> _open = [];
    private readonly Dictionary<int, TaskCompletionSource> _timers = [];
    private readonly Dictionary<string, LinkedList<TaskCompletionSource<string?>>> _waiters = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<(string Name, string? Input)> _buffered = [];
    private string _name = string.Empty;
    private string? _input;
    private DateTime _now;
    private bool _replaying;
    private int _sequence;
    private int _guids;
    private string? _customStatus;
    private (bool Requested, string? Input) _continueAsNew;
    private Task<object?>? _run;
    private Exception? _nonDeterminism;

    public DeterministicSynchronizationContext Sync { get; } = new();

    public override string Name => _name;

    public override string InstanceId => instanceId;

    public override DateTime CurrentUtcDateTime => _now;

    public override bool IsReplaying => _replaying;

    public override T? GetInput<T>() where T : default => _input is null ? default : JsonSerializer.Deserialize<T>(_input, Json);

    public override void SetCustomStatus(object? status) => _customStatus = status is null ? null : JsonSerializer.Serialize(status, Json);

    public override void ContinueAsNew(object? newInput) => _continueAsNew = (true, newInput is null ? null : JsonSerializer.Serialize(newInput, Json));

    public override void Log(string message)
    {
        if (!_replaying)
        {
            options.Log?.Invoke($"[{_name} {instanceId}] {message}");
        }
    }

    public override Guid NewGuid()
    {
        // A name-based (version 5 style) GUID from the instance, the step's time and a counter.
        var hash = SHA1.HashData(Encoding.UTF8.GetBytes($"{instanceId}|{_now:O}|{_guids++}"));
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash.AsSpan(0, 16));
    }

    public override async Task<T> CallActivityAsync<T>(string name, object? input = null, TaskOptions? taskOptions = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return Deserialize<T>(await ScheduleTask(name, input));
            }
            catch (TaskFailedException ex) when (ShouldRetry(taskOptions?.Retry, attempt, ex))
            {
                await CreateTimer(_now + taskOptions!.Retry!.DelayBefore(attempt + 1));
            }
        }
    }

    public override async Task<T> CallSubOrchestratorAsync<T>(string name, object? input = null, string? subInstanceId = null, TaskOptions? taskOptions = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return Deserialize<T>(await ScheduleSubOrchestration(name, input, subInstanceId));
            }
            catch (TaskFailedException ex) when (ShouldRetry(taskOptions?.Retry, attempt, ex))
            {
                await CreateTimer(_now + taskOptions!.Retry!.DelayBefore(attempt + 1));
            }
        }
    }

    public override async Task CreateTimer(DateTime fireAtUtc, CancellationToken cancellationToken = default)
    {
        // Long waits become a chain of timers no longer than the maximum interval.
        while (fireAtUtc - _now > options.MaximumTimerInterval)
        {
            await ScheduleTimer(_now + options.MaximumTimerInterval);
        }

        await ScheduleTimer(fireAtUtc);
    }

    public override async Task<T> WaitForExternalEvent<T>(string name, TimeSpan? timeout = null)
    {
        var index = _buffered.FindIndex(e => string.Equals(e.Name, name, StringComparison.OrdinalIgnoreCase));
        if (index >= 0)
        {
            var buffered = _buffered[index];
            _buffered.RemoveAt(index);
            return Deserialize<T>(buffered.Input);
        }

        var source = new TaskCompletionSource<string?>();
        if (!_waiters.TryGetValue(name, out var list))
        {
            _waiters[name] = list = new LinkedList<TaskCompletionSource<string?>>();
        }

        var node = list.AddLast(source);
        if (timeout is null)
        {
            return Deserialize<T>(await source.Task);
        }

        var timer = CreateTimer(_now + timeout.Value);
        var first = await Task.WhenAny(source.Task, timer);
        if (first == source.Task)
        {
            return Deserialize<T>(await source.Task);
        }

        list.Remove(node);
        throw new TimeoutException($"Event '{name}' did not arrive within {timeout.Value} (instance {instanceId}).");
    }

    public void Replay(RepeatedField<HistoryEvent> events, bool replaying)
    {
        _replaying = replaying;
        foreach (var e in events)
        {
            if (_nonDeterminism is not null)
            {
                return;
            }

            try
            {
                Apply(e);
                Sync.Drain();
            }
            catch (NonDeterministicOrchestrationException ex)
            {
                _nonDeterminism = ex;
            }
        }
    }

    public OrchestratorResponse BuildResponse()
    {
        var response = new OrchestratorResponse { InstanceId = instanceId };
        if (_customStatus is not null)
        {
            response.CustomStatus = _customStatus;
        }

        if (_nonDeterminism is not null)
        {
            response.Actions.Add(Complete(OrchestrationStatus.Failed, null, new TaskFailureDetails
            {
                ErrorType = nameof(NonDeterministicOrchestrationException),
                ErrorMessage = _nonDeterminism.Message,
                IsNonRetriable = true,
            }));
            return response;
        }

        response.Actions.AddRange(_pending.Values);
        if (_run is { IsCompleted: true } run)
        {
            if (run.IsCompletedSuccessfully)
            {
                if (_continueAsNew.Requested)
                {
                    var action = Complete(OrchestrationStatus.ContinuedAsNew, _continueAsNew.Input, null);
                    foreach (var (name, input) in _buffered)
                    {
                        var raised = new EventRaisedEvent { Name = name };
                        if (input is not null)
                        {
                            raised.Input = input;
                        }

                        action.CompleteOrchestration.CarryoverEvents.Add(new HistoryEvent { EventId = -1, Timestamp = OrchestrationExecutor.ToTimestamp(_now), EventRaised = raised });
                    }

                    response.Actions.Add(action);
                }
                else
                {
                    response.Actions.Add(Complete(OrchestrationStatus.Completed, run.Result is null ? null : JsonSerializer.Serialize(run.Result, Json), null));
                }
            }
            else
            {
                var error = run.Exception?.InnerException ?? new InvalidOperationException("The orchestrator was cancelled.");
                var details = new TaskFailureDetails { ErrorType = error.GetType().FullName ?? error.GetType().Name, ErrorMessage = error.Message };
                if (error.StackTrace is { } stack)
                {
                    details.StackTrace = stack;
                }

                if (error is TaskFailedException failed)
                {
                    details.InnerFailure = failed.FailureDetails.ToProtocol();
                }

                response.Actions.Add(Complete(OrchestrationStatus.Failed, null, details));
            }
        }

        return response;
    }

    private OrchestratorAction Complete(OrchestrationStatus status, string? result, TaskFailureDetails? failure)
    {
        var complete = new CompleteOrchestrationAction { OrchestrationStatus = status };
        if (result is not null)
        {
            complete.Result = result;
        }

        if (failure is not null)
        {
            complete.FailureDetails = failure;
        }

        return new OrchestratorAction { Id = _sequence++, CompleteOrchestration = complete };
    }

    private void Apply(HistoryEvent e)
    {
        switch (e.EventTypeCase)
        {
            case HistoryEvent.EventTypeOneofCase.OrchestratorStarted:
                _now = e.Timestamp?.ToDateTime() ?? _now;
                break;
            case HistoryEvent.EventTypeOneofCase.ExecutionStarted:
                _name = e.ExecutionStarted.Name;
                _input = e.ExecutionStarted.Input;
                if (_now == default && e.Timestamp is not null)
                {
                    _now = e.Timestamp.ToDateTime();
                }

                _run = Start();
                break;
            case HistoryEvent.EventTypeOneofCase.TaskScheduled:
                Confirm(e.EventId, HistoryEvent.EventTypeOneofCase.TaskScheduled, e.TaskScheduled.Name);
                break;
            case HistoryEvent.EventTypeOneofCase.TaskCompleted:
                Resolve(e.TaskCompleted.TaskScheduledId, e.TaskCompleted.Result, null);
                break;
            case HistoryEvent.EventTypeOneofCase.TaskFailed:
                Resolve(e.TaskFailed.TaskScheduledId, null, e.TaskFailed.FailureDetails);
                break;
            case HistoryEvent.EventTypeOneofCase.SubOrchestrationInstanceCreated:
                Confirm(e.EventId, HistoryEvent.EventTypeOneofCase.SubOrchestrationInstanceCreated, e.SubOrchestrationInstanceCreated.Name);
                break;
            case HistoryEvent.EventTypeOneofCase.SubOrchestrationInstanceCompleted:
                Resolve(e.SubOrchestrationInstanceCompleted.TaskScheduledId, e.SubOrchestrationInstanceCompleted.Result, null);
                break;
            case HistoryEvent.EventTypeOneofCase.SubOrchestrationInstanceFailed:
                Resolve(e.SubOrchestrationInstanceFailed.TaskScheduledId, null, e.SubOrchestrationInstanceFailed.FailureDetails);
                break;
            case HistoryEvent.EventTypeOneofCase.TimerCreated:
                Confirm(e.EventId, HistoryEvent.EventTypeOneofCase.TimerCreated, null);
                break;
            case HistoryEvent.EventTypeOneofCase.TimerFired:
                if (_timers.Remove(e.TimerFired.TimerId, out var timer))
                {
                    timer.TrySetResult();
                }

                break;
            case HistoryEvent.EventTypeOneofCase.EventSent:
                Confirm(e.EventId, HistoryEvent.EventTypeOneofCase.EventSent, e.EventSent.Name);
                break;
            case HistoryEvent.EventTypeOneofCase.EventRaised:
                Raise(e.EventRaised.Name, e.EventRaised.Input);
                break;
            default:
                // OrchestratorCompleted, ExecutionCompleted, GenericEvent, suspension and the like change nothing here.
                break;
        }
    }

    private Task<object?> Start()
    {
        try
        {
            return orchestrator(this);
        }
        catch (Exception ex)
        {
            return Task.FromException<object?>(ex);
        }
    }

    private void Confirm(int id, HistoryEvent.EventTypeOneofCase kind, string? name)
    {
        var expected = kind switch
        {
            HistoryEvent.EventTypeOneofCase.TaskScheduled => $"scheduled activity '{name}'",
            HistoryEvent.EventTypeOneofCase.SubOrchestrationInstanceCreated => $"started sub-orchestration '{name}'",
            HistoryEvent.EventTypeOneofCase.TimerCreated => "created a timer",
            _ => $"sent event '{name}'",
        };
        if (!_pending.Remove(id, out var action))
        {
            throw new NonDeterministicOrchestrationException(
                $"Orchestration '{_name}' ({instanceId}) is not deterministic at step {id}: history says it {expected}, but the code did nothing at that step. The orchestrator code changed while this instance was running; finish old instances before deploying such changes, or version the orchestrator.");
        }

        var matches = (kind, action.OrchestratorActionTypeCase) switch
        {
            (HistoryEvent.EventTypeOneofCase.TaskScheduled, OrchestratorAction.OrchestratorActionTypeOneofCase.ScheduleTask) => action.ScheduleTask.Name == name,
            (HistoryEvent.EventTypeOneofCase.SubOrchestrationInstanceCreated, OrchestratorAction.OrchestratorActionTypeOneofCase.CreateSubOrchestration) => action.CreateSubOrchestration.Name == name,
            (HistoryEvent.EventTypeOneofCase.TimerCreated, OrchestratorAction.OrchestratorActionTypeOneofCase.CreateTimer) => true,
            (HistoryEvent.EventTypeOneofCase.EventSent, OrchestratorAction.OrchestratorActionTypeOneofCase.SendEvent) => action.SendEvent.Name == name,
            _ => false,
        };
        if (!matches)
        {
            throw new NonDeterministicOrchestrationException(
                $"Orchestration '{_name}' ({instanceId}) is not deterministic at step {id}: history says it {expected}, but the code now {Describe(action)}. The orchestrator code changed while this instance was running; finish old instances before deploying such changes, or version the orchestrator.");
        }
    }

    private static string Describe(OrchestratorAction action) => action.OrchestratorActionTypeCase switch
    {
        OrchestratorAction.OrchestratorActionTypeOneofCase.ScheduleTask => $"schedules activity '{action.ScheduleTask.Name}'",
        OrchestratorAction.OrchestratorActionTypeOneofCase.CreateSubOrchestration => $"starts sub-orchestration '{action.CreateSubOrchestration.Name}'",
        OrchestratorAction.OrchestratorActionTypeOneofCase.CreateTimer => "creates a timer",
        OrchestratorAction.OrchestratorActionTypeOneofCase.SendEvent => $"sends event '{action.SendEvent.Name}'",
        _ => action.OrchestratorActionTypeCase.ToString(),
    };

    private void Resolve(int id, string? result, TaskFailureDetails? failure)
    {
        if (!_open.Remove(id, out var open))
        {
            return; // A duplicate or unknown completion: nothing waits for it.
        }

        if (failure is null)
        {
            open.Source.TrySetResult(result);
        }
        else
        {
            open.Source.TrySetException(new TaskFailedException(open.Name, id, TaskFailureDetailsInfo.From(failure)));
        }
    }

    private void Raise(string name, string? input)
    {
        if (_waiters.TryGetValue(name, out var list) && list.First is { } first)
        {
            list.RemoveFirst();
            first.Value.TrySetResult(input);
            return;
        }

        _buffered.Add((name, input));
    }

    private Task<string?> ScheduleTask(string name, object? input)
    {
        var id = _sequence++;
        var action = new ScheduleTaskAction { Name = name };
        if (input is not null)
        {
            action.Input = JsonSerializer.Serialize(input, Json);
        }

        _pending[id] = new OrchestratorAction { Id = id, ScheduleTask = action };
        var source = new TaskCompletionSource<string?>();
        _open[id] = (name, source);
        return source.Task;
    }

    private Task<string?> ScheduleSubOrchestration(string name, object? input, string? subInstanceId)
    {
        var id = _sequence++;
        var action = new CreateSubOrchestrationAction { Name = name, InstanceId = subInstanceId ?? $"{instanceId}:{id:D4}" };
        if (input is not null)
        {
            action.Input = JsonSerializer.Serialize(input, Json);
        }

        _pending[id] = new OrchestratorAction { Id = id, CreateSubOrchestration = action };
        var source = new TaskCompletionSource<string?>();
        _open[id] = (name, source);
        return source.Task;
    }

    private Task ScheduleTimer(DateTime fireAt)
    {
        var id = _sequence++;
        _pending[id] = new OrchestratorAction { Id = id, CreateTimer = new CreateTimerAction { FireAt = OrchestrationExecutor.ToTimestamp(fireAt) } };
        var source = new TaskCompletionSource();
        _timers[id] = source;
        return source.Task;
    }

    private static bool ShouldRetry(RetryPolicy? retry, int attempt, TaskFailedException failure) =>
        retry is not null && attempt < retry.MaxAttempts && !failure.FailureDetails.IsNonRetriable && (retry.Handle?.Invoke(failure.FailureDetails) ?? true);

    private static T Deserialize<T>(string? json) => json is null ? default! : JsonSerializer.Deserialize<T>(json, Json)!;
}
