using FinServerless.Contracts;

namespace FinServerless.Functions.Jobs;

/// <summary>A training job to start: a name for logs and its environment (for TrainModel, only where the job file is).</summary>
public sealed record JobLaunch(string Name, IReadOnlyDictionary<string, string> Environment);

/// <summary>What the dispatcher knows of a job: running, succeeded, failed, or gone without saying (lost).</summary>
public sealed record JobReport(JobState State, string? Detail = null);

/// <summary>Starts training jobs and reports on them: a local process under the dev host, a Container Apps job in Azure.</summary>
public interface ITrainingJobDispatcher
{
    /// <summary>Starts the job; returns its execution id.</summary>
    Task<string> StartAsync(JobLaunch launch, CancellationToken cancellationToken);

    /// <summary>The state of an execution.</summary>
    Task<JobReport> GetStateAsync(string executionId, CancellationToken cancellationToken);
}
