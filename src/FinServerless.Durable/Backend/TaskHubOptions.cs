using FinServerless.Durable.Protocol;

namespace FinServerless.Durable.Backend;

/// <summary>Runs an orchestrator episode: the request in, the response out (in the dev host, an HTTP call to the handler).</summary>
public delegate Task<OrchestratorResponse> OrchestratorInvoker(string name, OrchestratorRequest request, CancellationToken cancellationToken);

/// <summary>Runs an activity: JSON input in, JSON output or a failure out.</summary>
public delegate Task<ActivityResult> ActivityInvoker(string name, string instanceId, string? input, CancellationToken cancellationToken);

/// <summary>What an activity produced.</summary>
public sealed record ActivityResult(string? Output, TaskFailureDetails? Failure)
{
    /// <summary>A successful result.</summary>
    public static ActivityResult Success(string? output) => new(output, null);

    /// <summary>A failure with its type and message.</summary>
    public static ActivityResult Fail(string type, string message) => new(null, new TaskFailureDetails { ErrorType = type, ErrorMessage = message });
}

/// <summary>Settings of the storage task hub (the dev host reads them from host.json's durableTask section).</summary>
public sealed record TaskHubOptions
{
    /// <summary>Task hub name: containers and queues are named after it (lowercase letters and digits).</summary>
    public string HubName { get; init; } = "finserverless";

    /// <summary>
    /// How long a received message stays hidden; the worker extends it every third of this while it works on the
    /// message (so long activities are not run twice), and a crashed worker's messages reappear this long after it died.
    /// </summary>
    public TimeSpan VisibilityTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Activities run at once by one host.</summary>
    public int ActivityConcurrency { get; init; } = 16;

    /// <summary>Instances processed at once by one host.</summary>
    public int OrchestrationConcurrency { get; init; } = 8;

    /// <summary>Longest wait between polls of an empty queue.</summary>
    public TimeSpan MaxPollInterval { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Receives one line per dispatched work item (instance, name, outcome); never inputs or outputs.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Checks the settings and names the one that is wrong.</summary>
    public void Validate()
    {
        if (!System.Text.RegularExpressions.Regex.IsMatch(HubName, "^[a-z][a-z0-9]{2,40}$"))
        {
            throw new ArgumentException($"Task hub name '{HubName}' (host.json extensions.durableTask.hubName) must be 3–41 lowercase letters and digits, starting with a letter.");
        }

        if (VisibilityTimeout < TimeSpan.FromSeconds(1))
        {
            throw new ArgumentException($"VisibilityTimeout {VisibilityTimeout} must be at least one second.");
        }
    }
}
