namespace FinServerless.Functions.Jobs;

/// <summary>A training job to start: a name for logs and the trainer's environment (its whole contract).</summary>
public sealed record TrainingJobSpec(string Name, IReadOnlyDictionary<string, string> Environment);

/// <summary>What the dispatcher knows of a job: running, succeeded, failed, or gone without saying (lost).</summary>
public sealed record JobState(string State, string? Detail = null)
{
    /// <summary>States.</summary>
    public const string Running = "running", Succeeded = "succeeded", Failed = "failed", Lost = "lost";
}

/// <summary>Starts training jobs and reports on them: a local process under the dev host, a Container Apps job in Azure.</summary>
public interface ITrainingJobDispatcher
{
    /// <summary>Starts the job; returns its execution id.</summary>
    Task<string> StartAsync(TrainingJobSpec spec, CancellationToken cancellationToken);

    /// <summary>The state of an execution.</summary>
    Task<JobState> GetStateAsync(string executionId, CancellationToken cancellationToken);
}
