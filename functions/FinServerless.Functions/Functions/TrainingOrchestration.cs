using FinServerless.Contracts;
using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using Microsoft.Extensions.Logging;

namespace FinServerless.Functions.Functions;

/// <summary>What StartTraining accepts.</summary>
public sealed record TrainModelInput
{
    /// <summary>Partner whose curated data trains the model.</summary>
    public string Partner { get; init; } = string.Empty;

    /// <summary>Dataset.</summary>
    public string Dataset { get; init; } = string.Empty;

    /// <summary>xgboost, mlp or scorecard.</summary>
    public string Trainer { get; init; } = "xgboost";

    /// <summary>Model name (default {dataset}-{trainer}).</summary>
    public string? Model { get; init; }

    /// <summary>Hyperparameters.</summary>
    public JsonObject? Params { get; init; }

    /// <summary>Seed.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Start RescorePortfolio for this model when the candidate is promoted.</summary>
    public bool Rescore { get; init; }

    /// <summary>Overall timeout in minutes (default: the app setting).</summary>
    public double? TimeoutMinutes { get; init; }
}

/// <summary>The training job as prepared: its spec (written as job.json), the run's size, and how TrainModel watches it.</summary>
public sealed record PreparedTraining(TrainingJobSpec Job, string RunId, long Rows, double TimeoutMinutes, double PollSeconds, bool Rescore)
{
    /// <summary>"model@version".</summary>
    public string Id => $"{Job.Model}@{Job.Version}";
}

/// <summary>Which job to ask about.</summary>
public sealed record JobQuery(string ExecutionId, string Model, string Version);

/// <summary>A job's state, the trainer's latest progress line, why it failed, and its result once it succeeded.</summary>
public sealed record TrainingJobStatus(JobState State, string? Line, string? Detail, TrainingResult? Result = null);

/// <summary>What DecidePromotion decides on: the job and the trainer's result.</summary>
public sealed record PromotionRequest(PreparedTraining Prepared, TrainingResult Result);

/// <summary>What TrainModel returns: the candidate, the data it was trained on, the job, the decision and any rescoring.</summary>
public sealed record TrainModelResult(string Model, string CuratedRun, string Execution, PromotionDecision Decision, RescoreResult? Rescore);

/// <summary>
/// TrainModel: prepare the job → dispatch the training container job → watch it with durable timers (custom status
/// carries the trainer's progress; an overall timeout fails the orchestration with its reason) → decide from the
/// trainer's result, which scored the candidate and the champion on the same held-out rows → promote when it wins by
/// the configured margin → optionally rescore the portfolio. No curated data passes through the function app.
/// </summary>
public static class TrainingOrchestration
{
    /// <summary>Checks a start request before an orchestration is created for it.</summary>
    public static void Validate(TrainModelInput? input)
    {
        if (input is null || string.IsNullOrWhiteSpace(input.Partner) || string.IsNullOrWhiteSpace(input.Dataset))
        {
            throw new ArgumentException("'partner' and 'dataset' are required");
        }

        _ = StorageName.Partner(input.Partner);
        _ = StorageName.Dataset(input.Dataset);
        _ = StorageName.Model(input.Model ?? $"{input.Dataset}-{input.Trainer}", input.Model is null ? "dataset" : "model");

        if (!Training.TrainingJob.Trainers.Contains(input.Trainer))
        {
            throw new ArgumentException($"'trainer' must be one of {string.Join(", ", Training.TrainingJob.Trainers)} (got '{input.Trainer}')");
        }
    }

    /// <summary>Retries of the activities that talk to storage and the job API: transient failures there must not fail a training.</summary>
    private static readonly TaskOptions Retried = new(new TaskRetryOptions(new RetryPolicy(4, TimeSpan.FromSeconds(2), backoffCoefficient: 2, maxRetryInterval: TimeSpan.FromSeconds(30))));

    /// <summary>The orchestrator.</summary>
    [Function(nameof(TrainModel))]
    public static async Task<TrainModelResult> TrainModel([OrchestrationTrigger] TaskOrchestrationContext context)
    {
        var log = context.CreateReplaySafeLogger(nameof(TrainModel));
        var input = context.GetInput<TrainModelInput>() ?? throw new ArgumentException("TrainModel needs an input.");
        context.SetCustomStatus(new { phase = "preparing" });
        PreparedTraining prepared;
        try
        {
            prepared = await context.CallActivityAsync<PreparedTraining>("PrepareTraining", input);
        }
        catch (TaskFailedException ex)
        {
            context.SetCustomStatus(new { phase = "failed", step = "preparing", reason = ex.FailureDetails.ErrorMessage });
            throw;
        }

        var id = prepared.Id;
        var started = context.CurrentUtcDateTime;
        var execution = await context.CallActivityAsync<string>("DispatchTrainingJob", prepared, Retried);
        log.LogInformation("TrainModel {InstanceId}: dispatched {Model} as {Execution}", context.InstanceId, id, execution);
        var deadline = started.AddMinutes(prepared.TimeoutMinutes);
        // Bounded by the deadline: at most TimeoutMinutes / PollSeconds polls (240 with the defaults) in the history.
        string? lastLine = null;
        TrainingResult? result = null;
        while (result is null && context.CurrentUtcDateTime <= deadline)
        {
            await context.CreateTimer(context.CurrentUtcDateTime.AddSeconds(prepared.PollSeconds), CancellationToken.None);
            var status = await context.CallActivityAsync<TrainingJobStatus>("GetTrainingJobStatus", new JobQuery(execution, prepared.Job.Model, prepared.Job.Version), Retried);
            context.SetCustomStatus(new { phase = "training", model = id, execution, state = status.State, progress = status.Line });
            lastLine = status.Line ?? lastLine;
            result = status.State == JobState.Succeeded ? status.Result : null;

            if (status.State == JobState.Failed)
            {
                context.SetCustomStatus(new { phase = "failed", step = "training", model = id, execution, reason = status.Detail, progress = status.Line });
                throw new InvalidOperationException($"Training job {execution} for {id} failed: {status.Detail}");
            }
        }

        if (result is null)
        {
            context.SetCustomStatus(new { phase = "failed", step = "training", model = id, execution, reason = "timed out", progress = lastLine });
            throw new TimeoutException(string.Create(CultureInfo.InvariantCulture, $"Training job {execution} for {id} did not finish within {prepared.TimeoutMinutes} minutes (last progress: {lastLine ?? "none"}); TrainModel gave up."));
        }

        context.SetCustomStatus(new { phase = "deciding", model = id });
        var decision = await context.CallActivityAsync<PromotionDecision>("DecidePromotion", new PromotionRequest(prepared, result), Retried);
        if (decision.Promote)
        {
            await context.CallActivityAsync<bool>("PromoteModel", decision, Retried);
        }

        RescoreResult? rescore = null;
        if (decision.Promote && prepared.Rescore)
        {
            context.SetCustomStatus(new { phase = "rescoring", model = id });
            rescore = await context.CallSubOrchestratorAsync<RescoreResult>(nameof(RescoreOrchestration.RescorePortfolio), new RescoreInput([prepared.Job.Model]));
        }

        context.SetCustomStatus(new { phase = "done", model = id, promoted = decision.Promote, reason = decision.Reason });
        return new TrainModelResult(id, prepared.Job.Input, execution, decision, rescore);
    }
}
