using Azure;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using FinServerless.Durable.Protocol;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace FinServerless.Durable.Backend;

/// <summary>The worker side of the hub: the orchestration and activity dispatchers.</summary>
public sealed partial class StorageTaskHub
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, SemaphoreSlim> _instanceGates = new();

    // The state this host last committed for each running instance, with its ETag: the next episode starts from it
    // instead of downloading the history again. Any doubt (a conflict, a message from a newer generation, an error)
    // evicts the entry; a stale entry can only cost a rejected commit, because every commit is conditional.
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, (StoredInstance Instance, ETag ETag)> _committed = new();

    /// <summary>Runs both dispatchers until cancelled. Work left unfinished reappears for the next host.</summary>
    public Task RunAsync(OrchestratorInvoker orchestrators, ActivityInvoker activities, CancellationToken cancellationToken) =>
        RunAsync(orchestrators, activities, cancellationToken, cancellationToken);

    /// <summary>
    /// Runs both dispatchers until <paramref name="stopping"/> is cancelled: then no new message is taken, and the call
    /// returns once the episodes and activities already taken have finished (their results committed and sent), or
    /// have been cancelled by <paramref name="aborting"/>. Work left unfinished reappears for the next host.
    /// </summary>
    public async Task RunAsync(OrchestratorInvoker orchestrators, ActivityInvoker activities, CancellationToken stopping, CancellationToken aborting)
    {
        await CreateIfNotExistsAsync(stopping).ConfigureAwait(false);
        var loops = new[]
        {
            PollAsync(_control, _options.OrchestrationConcurrency, batch => DispatchOrchestrationsAsync(batch, orchestrators, aborting), stopping),
            PollAsync(_workItems, _options.ActivityConcurrency, batch => DispatchActivitiesAsync(batch, activities, aborting), stopping),
        };
        try
        {
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested || aborting.IsCancellationRequested)
        {
        }
    }

    private async Task PollAsync(QueueClient queue, int concurrency, Func<IReadOnlyList<QueueMessage>, Task> dispatch, CancellationToken cancellationToken)
    {
        var idle = TimeSpan.FromMilliseconds(10);
        var inFlight = new List<Task>();
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                foreach (var failed in inFlight.Where(t => t.IsFaulted))
                {
                    // The batch's messages reappear after their visibility timeout; say why they were not finished.
                    _options.Log?.Invoke($"durable: a {queue.Name} batch failed and will be retried: {failed.Exception?.GetBaseException().Message}");
                }

                inFlight.RemoveAll(t => t.IsCompleted);
                if (inFlight.Count >= concurrency)
                {
                    await Task.WhenAny(inFlight).ConfigureAwait(false);
                    continue;
                }

                IReadOnlyList<QueueMessage> batch;
                try
                {
                    batch = (await queue.ReceiveMessagesAsync(32, _options.VisibilityTimeout, cancellationToken).ConfigureAwait(false)).Value;
                }
                catch (RequestFailedException ex)
                {
                    _options.Log?.Invoke($"durable: receiving from {queue.Name} failed ({ex.Status} {ex.ErrorCode}); retrying");
                    await Task.Delay(_options.MaxPollInterval, cancellationToken).ConfigureAwait(false);
                    continue;
                }

                if (batch.Count == 0)
                {
                    await Task.Delay(idle, cancellationToken).ConfigureAwait(false);
                    idle = TimeSpan.FromMilliseconds(Math.Min(idle.TotalMilliseconds * 2, _options.MaxPollInterval.TotalMilliseconds));
                    continue;
                }

                idle = TimeSpan.FromMilliseconds(10);
                inFlight.Add(Task.Run(() => dispatch(batch), CancellationToken.None));
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Stopped taking messages.
        }

        // The batches already taken finish first (or are cancelled by their own token); what they leave unfinished
        // reappears for the next host when its visibility runs out.
        try
        {
            await Task.WhenAll(inFlight).ConfigureAwait(false);
        }
        catch (Exception ex) when (cancellationToken.IsCancellationRequested)
        {
            _options.Log?.Invoke($"durable: stopped with {queue.Name} work unfinished, which will be retried: {ex.GetBaseException().Message}");
        }
    }

    private async Task DispatchActivitiesAsync(IReadOnlyList<QueueMessage> batch, ActivityInvoker activities, CancellationToken cancellationToken)
    {
        await using var leases = new MessageLeases(_workItems, batch, _options.VisibilityTimeout, _options.Log);
        var unreadable = new System.Collections.Concurrent.ConcurrentBag<QueueMessage>();
        var done = new System.Collections.Concurrent.ConcurrentBag<(QueueMessage Message, string InstanceId, int Generation, HistoryEvent Event)>();
        await Parallel.ForEachAsync(batch, new ParallelOptions { MaxDegreeOfParallelism = _options.ActivityConcurrency }, async (message, _) =>
        {
            ActivityMessage work;
            try
            {
                work = ActivityMessage.Parser.ParseFrom(Convert.FromBase64String(message.MessageText));
            }
            catch (Exception ex) when (ex is FormatException or InvalidProtocolBufferException)
            {
                _options.Log?.Invoke($"durable: dropping an unreadable work item {message.MessageId}: {ex.Message}");
                unreadable.Add(message);
                return;
            }

            ActivityResult result;
            var clock = System.Diagnostics.Stopwatch.StartNew();
            try
            {
                result = await activities(work.Name, work.InstanceId, work.HasInput ? work.Input : null, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                result = ActivityResult.Fail(ex.GetType().FullName ?? ex.GetType().Name, ex.Message);
            }

            var e = new HistoryEvent { EventId = -1, Timestamp = Now() };
            if (result.Failure is null)
            {
                e.TaskCompleted = new TaskCompletedEvent { TaskScheduledId = work.TaskId };
                if (result.Output is not null)
                {
                    e.TaskCompleted.Result = result.Output;
                }
            }
            else
            {
                e.TaskFailed = new TaskFailedEvent { TaskScheduledId = work.TaskId, FailureDetails = result.Failure };
            }

            _options.Log?.Invoke($"durable: activity {work.Name} for {work.InstanceId} #{work.TaskId} {(result.Failure is null ? "succeeded" : "failed")} in {clock.ElapsedMilliseconds} ms");
            done.Add((message, work.InstanceId, work.Generation, e));
        }).ConfigureAwait(false);

        // One control message per instance (and execution) carries all of this batch's results; then the work items go.
        foreach (var group in done.GroupBy(d => (d.InstanceId, d.Generation)))
        {
            var events = group.Select(g => g.Event).ToList();
            var control = new ControlMessage { InstanceId = group.Key.InstanceId, Generation = group.Key.Generation, Event = events[0] };
            control.More.AddRange(events.Skip(1));
            await SendControlAsync(control, null, CancellationToken.None).ConfigureAwait(false);
        }

        await leases.ReleaseAsync(done.Select(d => d.Message).Concat(unreadable), null).ConfigureAwait(false);
    }

    private async Task DispatchOrchestrationsAsync(IReadOnlyList<QueueMessage> batch, OrchestratorInvoker orchestrators, CancellationToken cancellationToken)
    {
        await using var leases = new MessageLeases(_control, batch, _options.VisibilityTimeout, _options.Log);
        var byInstance = new Dictionary<string, List<(QueueMessage Message, ControlMessage Control)>>();
        foreach (var message in batch)
        {
            try
            {
                var control = ControlMessage.Parser.ParseFrom(Convert.FromBase64String(message.MessageText));
                if (!byInstance.TryGetValue(control.InstanceId, out var list))
                {
                    byInstance[control.InstanceId] = list = [];
                }

                list.Add((message, control));
            }
            catch (Exception ex) when (ex is FormatException or InvalidProtocolBufferException)
            {
                _options.Log?.Invoke($"durable: dropping an unreadable control message {message.MessageId}: {ex.Message}");
                await leases.ReleaseAsync([message], null).ConfigureAwait(false);
            }
        }

        await Parallel.ForEachAsync(byInstance, new ParallelOptions { MaxDegreeOfParallelism = _options.OrchestrationConcurrency }, async (group, _) =>
        {
            // One episode per instance at a time in this host; other hosts are kept out by the blob's ETag.
            var gate = _instanceGates.GetOrAdd(group.Key, _ => new SemaphoreSlim(1, 1));
            await gate.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await ProcessInstanceAsync(leases, group.Key, group.Value, orchestrators, cancellationToken).ConfigureAwait(false);
            }
            catch (RequestFailedException ex) when (ex.Status is 409 or 412)
            {
                // Another host committed first: make the messages visible again at once, to be replayed on the new history.
                _committed.TryRemove(group.Key, out var _);
                _options.Log?.Invoke($"durable: {group.Key} changed under us ({ex.ErrorCode}); its events will be retried");
                await ReleaseAsync(leases, group.Value, TimeSpan.Zero).ConfigureAwait(false);
            }
            catch
            {
                _committed.TryRemove(group.Key, out var _);
                throw;
            }
            finally
            {
                gate.Release();
            }
        }).ConfigureAwait(false);
    }

    private async Task ProcessInstanceAsync(MessageLeases leases, string instanceId, List<(QueueMessage Message, ControlMessage Control)> messages, OrchestratorInvoker orchestrators, CancellationToken cancellationToken)
    {
        var loaded = _committed.TryGetValue(instanceId, out var cached)
            ? (cached.Instance.Clone(), cached.ETag)
            : await LoadAsync(instanceId, cancellationToken).ConfigureAwait(false);
        var instance = loaded?.Instance;
        var now = DateTime.UtcNow;

        // Fence by execution: events of an earlier generation (a late activity result or timer of an execution
        // that has since continued as new or been restarted) are dropped; those of a later one (sent by an
        // episode whose commit has not landed yet) wait. Events from outside (generation 0) go to the current one.
        if (instance is { Generation: > 0 } fenced)
        {
            var stale = messages.Where(m => m.Control.Generation > 0 && m.Control.Generation < fenced.Generation).ToList();
            var early = messages.Where(m => m.Control.Generation > fenced.Generation).ToList();
            if (stale.Count > 0)
            {
                _options.Log?.Invoke($"durable: {instanceId}: dropped {stale.Sum(m => 1 + m.Control.More.Count)} event(s) of an earlier execution");
                await ReleaseAsync(leases, stale, null).ConfigureAwait(false);
            }

            if (early.Count > 0)
            {
                _committed.TryRemove(instanceId, out _);
                await ReleaseAsync(leases, early, TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            }

            messages = messages.Except(stale).Except(early).ToList();
            if (messages.Count == 0)
            {
                return;
            }
        }

        // Events can overtake the start they belong to (a host may send work and die before committing the
        // start). Until the instance's history has its ExecutionStarted, only the start is applied; the rest wait.
        var hasStarted = instance?.History.Any(e => e.EventTypeCase == HistoryEvent.EventTypeOneofCase.ExecutionStarted) ?? false;
        if (!hasStarted && (instance is not null || messages.Any(m => m.Control.Event.EventTypeCase == HistoryEvent.EventTypeOneofCase.ExecutionStarted)))
        {
            var start = messages.FirstOrDefault(m => m.Control.Event.EventTypeCase == HistoryEvent.EventTypeOneofCase.ExecutionStarted);
            var waiting = messages.Where(m => m.Message != start.Message).ToList();
            await ReleaseAsync(leases, waiting, TimeSpan.FromSeconds(1)).ConfigureAwait(false);
            if (start.Message is null)
            {
                return;
            }

            messages = [start];
        }

        var events = new List<HistoryEvent>();
        var completed = new HashSet<int>(instance?.CompletedIds ?? []);
        var later = new List<ControlMessage>();
        foreach (var (control, e) in messages.SelectMany(m => m.Control.More.Prepend(m.Control.Event).Select(e => (m.Control, e))))
        {
            switch (e.EventTypeCase)
            {
                case HistoryEvent.EventTypeOneofCase.ExecutionStarted:
                    if (!hasStarted && !events.Any(x => x.EventTypeCase == HistoryEvent.EventTypeOneofCase.ExecutionStarted))
                    {
                        instance ??= NewInstance(instanceId, e.ExecutionStarted, control, now);
                        instance.ParentInstanceId = control.ParentInstanceId;
                        instance.ParentTaskId = control.ParentTaskId;
                        instance.ParentGeneration = control.ParentGeneration;
                        events.Add(e);
                    }

                    break;
                case HistoryEvent.EventTypeOneofCase.TimerFired:
                    if (e.TimerFired.FireAt.ToDateTime() > now.AddSeconds(1))
                    {
                        later.Add(control); // a long timer still chaining toward its time
                    }
                    else if (completed.Add(e.TimerFired.TimerId))
                    {
                        events.Add(e);
                    }

                    break;
                case HistoryEvent.EventTypeOneofCase.TaskCompleted:
                    AddOnce(e, e.TaskCompleted.TaskScheduledId);
                    break;
                case HistoryEvent.EventTypeOneofCase.TaskFailed:
                    AddOnce(e, e.TaskFailed.TaskScheduledId);
                    break;
                case HistoryEvent.EventTypeOneofCase.SubOrchestrationInstanceCompleted:
                    AddOnce(e, e.SubOrchestrationInstanceCompleted.TaskScheduledId);
                    break;
                case HistoryEvent.EventTypeOneofCase.SubOrchestrationInstanceFailed:
                    AddOnce(e, e.SubOrchestrationInstanceFailed.TaskScheduledId);
                    break;
                default:
                    events.Add(e);
                    break;
            }
        }

        void AddOnce(HistoryEvent e, int id)
        {
            if (completed.Add(id))
            {
                events.Add(e);
            }
        }

        foreach (var pending in later)
        {
            await SendControlAsync(pending, Delay(pending.Event.TimerFired.FireAt.ToDateTime(), now), cancellationToken).ConfigureAwait(false);
        }

        if (instance is null || IsTerminal(instance.State.OrchestrationStatus) || events.Count == 0)
        {
            await ReleaseAsync(leases, messages, null).ConfigureAwait(false);
            return;
        }

        var outgoing = new List<(ControlMessage? Control, TimeSpan? Delay, ActivityMessage? Work)>();
        var next = instance.Clone();
        next.CompletedIds.Clear();
        next.CompletedIds.AddRange(completed);
        var started = new HistoryEvent { EventId = -1, Timestamp = Timestamp.FromDateTime(now), OrchestratorStarted = new OrchestratorStartedEvent() };
        next.History.Add(started);
        next.History.AddRange(events);

        var terminated = events.FirstOrDefault(e => e.EventTypeCase == HistoryEvent.EventTypeOneofCase.ExecutionTerminated);
        if (terminated is not null)
        {
            Finish(next, OrchestrationStatus.Terminated, terminated.ExecutionTerminated.Input, null, now, outgoing);
        }
        else
        {
            var request = new OrchestratorRequest { InstanceId = instanceId, ExecutionId = instance.State.ExecutionId };
            request.PastEvents.AddRange(instance.History);
            request.NewEvents.Add(started);
            request.NewEvents.AddRange(events);
            var response = await orchestrators(instance.State.Name, request, cancellationToken).ConfigureAwait(false);
            if (response.CustomStatus is not null)
            {
                next.State.CustomStatus = response.CustomStatus;
            }

            next.State.OrchestrationStatus = OrchestrationStatus.Running;
            next.History.Add(new HistoryEvent { EventId = -1, Timestamp = Timestamp.FromDateTime(now), OrchestratorCompleted = new OrchestratorCompletedEvent() });
            ApplyActions(next, response, now, outgoing);
        }

        next.State.LastUpdatedTimestamp = Timestamp.FromDateTime(now);

        // Send first, commit second: a crash in between repeats work (deduplicated by id) but never loses it.
        await Parallel.ForEachAsync(outgoing, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (o, ct) =>
        {
            if (o.Work is not null)
            {
                await _workItems.SendMessageAsync(Convert.ToBase64String(o.Work.ToByteArray()), null, TimeSpan.FromSeconds(-1), ct).ConfigureAwait(false);
            }
            else
            {
                await SendControlAsync(o.Control!, o.Delay, ct).ConfigureAwait(false);
            }
        }).ConfigureAwait(false);

        BlobContentInfo committed = await _instances.GetBlobClient(instanceId).UploadAsync(new BinaryData(next.ToByteArray()), new BlobUploadOptions
        {
            Conditions = loaded is null ? CreateOnly() : Matching(loaded.Value.ETag),
            HttpHeaders = new BlobHttpHeaders { ContentType = "application/x-protobuf" },
        }, cancellationToken).ConfigureAwait(false);
        if (IsTerminal(next.State.OrchestrationStatus) || _committed.Count >= 10_000)
        {
            _committed.TryRemove(instanceId, out _);
        }
        else
        {
            _committed[instanceId] = (next, committed.ETag);
        }
        _options.Log?.Invoke($"durable: {instance.State.Name} {instanceId}: {events.Count} event(s) → {next.State.OrchestrationStatus}, {outgoing.Count} message(s)");
        await ReleaseAsync(leases, messages, null).ConfigureAwait(false);
    }

    private void ApplyActions(StoredInstance next, OrchestratorResponse response, DateTime now, List<(ControlMessage?, TimeSpan?, ActivityMessage?)> outgoing)
    {
        var at = Timestamp.FromDateTime(now);
        foreach (var action in response.Actions)
        {
            switch (action.OrchestratorActionTypeCase)
            {
                case OrchestratorAction.OrchestratorActionTypeOneofCase.ScheduleTask:
                    var task = action.ScheduleTask;
                    next.History.Add(new HistoryEvent { EventId = action.Id, Timestamp = at, TaskScheduled = new TaskScheduledEvent { Name = task.Name, Input = task.Input } });
                    outgoing.Add((null, null, new ActivityMessage { InstanceId = next.State.InstanceId, Generation = next.Generation, TaskId = action.Id, Name = task.Name, Input = task.Input ?? string.Empty, HasInput = task.Input is not null }));
                    break;
                case OrchestratorAction.OrchestratorActionTypeOneofCase.CreateTimer:
                    var fireAt = action.CreateTimer.FireAt;
                    next.History.Add(new HistoryEvent { EventId = action.Id, Timestamp = at, TimerCreated = new TimerCreatedEvent { FireAt = fireAt } });
                    outgoing.Add((new ControlMessage { InstanceId = next.State.InstanceId, Generation = next.Generation, Event = new HistoryEvent { EventId = -1, Timestamp = fireAt, TimerFired = new TimerFiredEvent { TimerId = action.Id, FireAt = fireAt } } }, Delay(fireAt.ToDateTime(), now), null));
                    break;
                case OrchestratorAction.OrchestratorActionTypeOneofCase.CreateSubOrchestration:
                    var sub = action.CreateSubOrchestration;
                    next.History.Add(new HistoryEvent { EventId = action.Id, Timestamp = at, SubOrchestrationInstanceCreated = new SubOrchestrationInstanceCreatedEvent { InstanceId = sub.InstanceId, Name = sub.Name, Input = sub.Input } });
                    var child = new ExecutionStartedEvent { Name = sub.Name, Input = sub.Input, OrchestrationInstance = new OrchestrationInstance { InstanceId = sub.InstanceId } };
                    outgoing.Add((new ControlMessage { InstanceId = sub.InstanceId, ParentInstanceId = next.State.InstanceId, ParentTaskId = action.Id, ParentGeneration = next.Generation, Event = new HistoryEvent { EventId = -1, Timestamp = at, ExecutionStarted = child } }, null, null));
                    break;
                case OrchestratorAction.OrchestratorActionTypeOneofCase.SendEvent:
                    var send = action.SendEvent;
                    next.History.Add(new HistoryEvent { EventId = action.Id, Timestamp = at, EventSent = new EventSentEvent { InstanceId = send.Instance.InstanceId, Name = send.Name, Input = send.Data } });
                    outgoing.Add((new ControlMessage { InstanceId = send.Instance.InstanceId, Event = new HistoryEvent { EventId = -1, Timestamp = at, EventRaised = new EventRaisedEvent { Name = send.Name, Input = send.Data } } }, null, null));
                    break;
                case OrchestratorAction.OrchestratorActionTypeOneofCase.CompleteOrchestration:
                    var complete = action.CompleteOrchestration;
                    if (complete.OrchestrationStatus == OrchestrationStatus.ContinuedAsNew)
                    {
                        // A fresh execution: empty history, the new input, and the events it had not consumed.
                        // A new generation: whatever the old execution still has in flight is fenced off.
                        next.History.Clear();
                        next.CompletedIds.Clear();
                        next.State.Input = complete.Result;
                        next.Generation++;
                        next.State.ExecutionId = NewExecutionId();
                        var restart = new ExecutionStartedEvent { Name = next.State.Name, Input = complete.Result, OrchestrationInstance = new OrchestrationInstance { InstanceId = next.State.InstanceId, ExecutionId = next.State.ExecutionId } };
                        outgoing.Add((new ControlMessage { InstanceId = next.State.InstanceId, Generation = next.Generation, ParentInstanceId = next.ParentInstanceId, ParentTaskId = next.ParentTaskId, ParentGeneration = next.ParentGeneration, Event = new HistoryEvent { EventId = -1, Timestamp = at, ExecutionStarted = restart } }, null, null));
                        foreach (var carried in complete.CarryoverEvents)
                        {
                            outgoing.Add((new ControlMessage { InstanceId = next.State.InstanceId, Generation = next.Generation, Event = carried }, null, null));
                        }

                        next.State.OrchestrationStatus = OrchestrationStatus.ContinuedAsNew;
                        return;
                    }

                    Finish(next, complete.OrchestrationStatus, complete.Result, complete.FailureDetails, now, outgoing);
                    return;
                default:
                    throw new NotSupportedException($"Orchestration {next.State.Name} returned action {action.OrchestratorActionTypeCase}, which the Durable extension does not accept.");
            }
        }
    }

    private static void Finish(StoredInstance next, OrchestrationStatus status, string? output, TaskFailureDetails? failure, DateTime now, List<(ControlMessage?, TimeSpan?, ActivityMessage?)> outgoing)
    {
        var at = Timestamp.FromDateTime(now);
        next.State.OrchestrationStatus = status;
        next.State.CompletedTimestamp = at;
        if (output is not null)
        {
            next.State.Output = output;
        }

        if (failure is not null)
        {
            next.State.FailureDetails = failure;
        }

        next.History.Add(new HistoryEvent { EventId = -1, Timestamp = at, ExecutionCompleted = new ExecutionCompletedEvent { OrchestrationStatus = status, Result = output, FailureDetails = failure } });
        if (!string.IsNullOrEmpty(next.ParentInstanceId))
        {
            var e = new HistoryEvent { EventId = -1, Timestamp = at };
            if (status == OrchestrationStatus.Completed)
            {
                e.SubOrchestrationInstanceCompleted = new SubOrchestrationInstanceCompletedEvent { TaskScheduledId = next.ParentTaskId, Result = output };
            }
            else
            {
                e.SubOrchestrationInstanceFailed = new SubOrchestrationInstanceFailedEvent
                {
                    TaskScheduledId = next.ParentTaskId,
                    FailureDetails = failure ?? new TaskFailureDetails { ErrorType = status.ToString(), ErrorMessage = $"Sub-orchestration {next.State.InstanceId} ended {status}." },
                };
            }

            outgoing.Add((new ControlMessage { InstanceId = next.ParentInstanceId, Generation = next.ParentGeneration, Event = e }, null, null));
        }
    }

    private static StoredInstance NewInstance(string instanceId, ExecutionStartedEvent started, ControlMessage control, DateTime now) => new()
    {
        Generation = Math.Max(1, control.Generation),
        State = new OrchestrationState
        {
            InstanceId = instanceId,
            ExecutionId = string.IsNullOrEmpty(started.OrchestrationInstance?.ExecutionId) ? NewExecutionId() : started.OrchestrationInstance.ExecutionId,
            Name = started.Name,
            Input = started.Input,
            OrchestrationStatus = OrchestrationStatus.Pending,
            CreatedTimestamp = Timestamp.FromDateTime(now),
            LastUpdatedTimestamp = Timestamp.FromDateTime(now),
            ParentInstanceId = string.IsNullOrEmpty(control.ParentInstanceId) ? null : control.ParentInstanceId,
        },
    };

    private static TimeSpan Delay(DateTime fireAt, DateTime now)
    {
        var delay = fireAt - now;
        return delay <= TimeSpan.Zero ? TimeSpan.Zero : delay > MaxQueueDelay ? MaxQueueDelay : delay;
    }

    /// <summary>Deletes processed control messages (null), or makes them visible again after a delay.</summary>
    private static Task ReleaseAsync(MessageLeases leases, List<(QueueMessage Message, ControlMessage Control)> messages, TimeSpan? visibleAgainIn) =>
        leases.ReleaseAsync(messages.Select(m => m.Message), visibleAgainIn);
}
