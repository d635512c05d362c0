using System.Runtime.CompilerServices;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Queues;
using FinServerless.Connections;
using FinServerless.Durable.Orchestration;
using FinServerless.Durable.Protocol;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;

namespace FinServerless.Durable.Backend;

/// <summary>
/// A durable task hub on Azure Storage (Azurite locally), playing the Durable extension's part for the dev host.
/// Each instance is one blob (state and history under one ETag); a control queue carries every event for an
/// instance (start, activity results, timers as delayed messages, raised events, sub-orchestration results);
/// a work-item queue carries activities. Delivery is at least once: outgoing messages are sent before the
/// history commit, duplicates are dropped by id, and a crashed host's messages reappear for the next one.
/// </summary>
public sealed partial class StorageTaskHub
{
    private static readonly TimeSpan MaxQueueDelay = TimeSpan.FromDays(6);

    private readonly BlobContainerClient _instances;
    private readonly QueueClient _control;
    private readonly QueueClient _workItems;
    private readonly TaskHubOptions _options;

    /// <summary>
    /// Creates a hub on the storage account of <paramref name="connection"/> (its retries and network timeout apply).
    /// The hub makes its own queue clients with <see cref="QueueMessageEncoding.None"/>: its messages are protobuf bytes
    /// it base64-encodes itself, so the text on the wire is that base64 whatever encoding the application's queues use,
    /// and a message that is not readable reaches the dispatcher (which logs and drops it) instead of failing the receive.
    /// </summary>
    public StorageTaskHub(StorageConnection connection, TaskHubOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(connection);
        _options = options ?? new TaskHubOptions();
        _options.Validate();
        var blobs = connection.CreateBlobServiceClient();
        var queues = connection.CreateQueueServiceClient(QueueMessageEncoding.None);
        _instances = blobs.GetBlobContainerClient($"{_options.HubName}-instances");
        _control = queues.GetQueueClient($"{_options.HubName}-control");
        _workItems = queues.GetQueueClient($"{_options.HubName}-workitems");
    }

    /// <summary>The hub's name.</summary>
    public string Name => _options.HubName;

    /// <summary>Creates the container and queues if absent.</summary>
    public async Task CreateIfNotExistsAsync(CancellationToken cancellationToken = default)
    {
        await _instances.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await _control.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        await _workItems.CreateIfNotExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Schedules a new instance; returns its id. Fails if a running instance has the same id.</summary>
    public async Task<string> StartAsync(string name, string? inputJson, string? instanceId = null, CancellationToken cancellationToken = default)
    {
        instanceId ??= Guid.NewGuid().ToString("N");
        var now = DateTime.UtcNow;
        var state = new OrchestrationState
        {
            InstanceId = instanceId,
            Name = name,
            OrchestrationStatus = OrchestrationStatus.Pending,
            CreatedTimestamp = Timestamp.FromDateTime(now),
            LastUpdatedTimestamp = Timestamp.FromDateTime(now),
        };
        if (inputJson is not null)
        {
            state.Input = inputJson;
        }

        var blob = _instances.GetBlobClient(instanceId);
        var existing = await LoadAsync(instanceId, cancellationToken).ConfigureAwait(false);
        if (existing is { } e && !IsTerminal(e.Instance.State.OrchestrationStatus))
        {
            throw new InvalidOperationException($"Orchestration instance '{instanceId}' already exists and is {Describe(e.Instance.State.OrchestrationStatus)}; pick another id or terminate it first.");
        }

        // Reusing a finished instance's id starts a new generation: late messages of the old one are dropped.
        var generation = (existing?.Instance.Generation ?? 0) + 1;
        state.ExecutionId = NewExecutionId();
        await blob.UploadAsync(new BinaryData(new StoredInstance { State = state, Generation = generation }.ToByteArray()), new BlobUploadOptions
        {
            Conditions = existing is null ? CreateOnly() : Matching(existing.Value.ETag),
        }, cancellationToken).ConfigureAwait(false);

        var started = new ExecutionStartedEvent { Name = name, OrchestrationInstance = new OrchestrationInstance { InstanceId = instanceId, ExecutionId = state.ExecutionId } };
        if (inputJson is not null)
        {
            started.Input = inputJson;
        }

        await SendControlAsync(new ControlMessage { InstanceId = instanceId, Generation = generation, Event = new HistoryEvent { EventId = -1, Timestamp = Timestamp.FromDateTime(now), ExecutionStarted = started } }, null, cancellationToken).ConfigureAwait(false);
        return instanceId;
    }

    /// <summary>Delivers an external event to an instance.</summary>
    public Task RaiseEventAsync(string instanceId, string eventName, string? inputJson, CancellationToken cancellationToken = default)
    {
        var raised = new EventRaisedEvent { Name = eventName };
        if (inputJson is not null)
        {
            raised.Input = inputJson;
        }

        return SendControlAsync(new ControlMessage { InstanceId = instanceId, Event = new HistoryEvent { EventId = -1, Timestamp = Timestamp.FromDateTime(DateTime.UtcNow), EventRaised = raised } }, null, cancellationToken);
    }

    /// <summary>Asks an instance to stop; it ends Terminated with the reason as output.</summary>
    public Task TerminateAsync(string instanceId, string? reason, CancellationToken cancellationToken = default)
    {
        var terminated = new ExecutionTerminatedEvent();
        if (reason is not null)
        {
            terminated.Input = System.Text.Json.JsonSerializer.Serialize(reason);
        }

        return SendControlAsync(new ControlMessage { InstanceId = instanceId, Event = new HistoryEvent { EventId = -1, Timestamp = Timestamp.FromDateTime(DateTime.UtcNow), ExecutionTerminated = terminated } }, null, cancellationToken);
    }

    /// <summary>The instance's state (and history when asked), or null when unknown.</summary>
    public async Task<(OrchestrationState State, IReadOnlyList<HistoryEvent> History)?> GetAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        var loaded = await LoadAsync(instanceId, cancellationToken).ConfigureAwait(false);
        return loaded is { } l ? (l.Instance.State, l.Instance.History) : null;
    }

    /// <summary>Deletes a finished instance's state and history; returns whether it existed.</summary>
    public async Task<bool> PurgeAsync(string instanceId, CancellationToken cancellationToken = default)
    {
        var loaded = await LoadAsync(instanceId, cancellationToken).ConfigureAwait(false);
        if (loaded is null)
        {
            return false;
        }

        if (!IsTerminal(loaded.Value.Instance.State.OrchestrationStatus))
        {
            throw new InvalidOperationException($"Orchestration instance '{instanceId}' is {Describe(loaded.Value.Instance.State.OrchestrationStatus)}; terminate it before purging.");
        }

        return await _instances.GetBlobClient(instanceId).DeleteIfExistsAsync(DeleteSnapshotsOption.None, Matching(loaded.Value.ETag), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Instances, optionally filtered by status and creation time.</summary>
    public async IAsyncEnumerable<OrchestrationState> ListAsync(
        IReadOnlyCollection<OrchestrationStatus>? statuses = null, DateTime? createdFrom = null, DateTime? createdTo = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        await foreach (var item in _instances.GetBlobsAsync(BlobTraits.None, BlobStates.None, prefix: null, cancellationToken).ConfigureAwait(false))
        {
            var loaded = await LoadAsync(item.Name, cancellationToken).ConfigureAwait(false);
            if (loaded is not { } l)
            {
                continue;
            }

            var state = l.Instance.State;
            var created = state.CreatedTimestamp?.ToDateTime() ?? DateTime.MinValue;
            if ((statuses is null || statuses.Contains(state.OrchestrationStatus)) && (createdFrom is null || created >= createdFrom) && (createdTo is null || created <= createdTo))
            {
                yield return state;
            }
        }
    }

    /// <summary>Polls until the instance is completed, failed or terminated.</summary>
    public async Task<OrchestrationState> WaitForCompletionAsync(string instanceId, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        while (true)
        {
            var loaded = await LoadAsync(instanceId, limit.Token).ConfigureAwait(false);
            if (loaded is { } l && IsTerminal(l.Instance.State.OrchestrationStatus))
            {
                return l.Instance.State;
            }

            try
            {
                await Task.Delay(100, limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                throw new TimeoutException($"Orchestration instance '{instanceId}' did not finish within {timeout} (last status: {loaded?.Instance.State.OrchestrationStatus.ToString() ?? "unknown"}).");
            }
        }
    }

    /// <summary>Whether a status is final.</summary>
    public static bool IsTerminal(OrchestrationStatus status) =>
        status is OrchestrationStatus.Completed or OrchestrationStatus.Failed or OrchestrationStatus.Terminated or OrchestrationStatus.Canceled;

    private static string Describe(OrchestrationStatus status) => status.ToString().ToLowerInvariant();

    private async Task<(StoredInstance Instance, ETag ETag)?> LoadAsync(string instanceId, CancellationToken cancellationToken)
    {
        try
        {
            // One GET; the SDK resumes a broken body with a ranged read pinned to this ETag (If-Match), so the bytes
            // parsed are always of the version whose ETag is returned.
            using var download = (await _instances.GetBlobClient(instanceId).DownloadStreamingAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value;
            await using var stream = download.Content;
            var instance = StoredInstance.Parser.ParseFrom(stream);
            return (instance, download.Details.ETag);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    private Task SendControlAsync(ControlMessage message, TimeSpan? delay, CancellationToken cancellationToken) =>
        _control.SendMessageAsync(Convert.ToBase64String(message.ToByteArray()), delay, TimeSpan.FromSeconds(-1), cancellationToken);

    /// <summary>Create-only: the write succeeds only when no blob exists under the name (else 409 BlobAlreadyExists).</summary>
    private static BlobRequestConditions CreateOnly() => new() { IfNoneMatch = ETag.All };

    /// <summary>Only while the blob still has <paramref name="etag"/> (else 412 ConditionNotMet).</summary>
    private static BlobRequestConditions Matching(ETag etag) => new() { IfMatch = etag };

    private static Timestamp Now() => Timestamp.FromDateTime(DateTime.UtcNow);

    private static string NewExecutionId() => Guid.NewGuid().ToString("N");
}
