using FinServerless.Contracts;
using System.Globalization;
using System.Text.Json.Nodes;
using FinServerless.Durable.Orchestration;

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

/// <summary>The training job as prepared: data, model version and every setting.</summary>
public sealed record PreparedTraining(
    string RunManifest, string RunId, long Rows, string Model, string Version, string Trainer, string? ParamsJson, int Seed,
    string Device, string Validation, double TimeoutMinutes, double PollSeconds, bool Rescore);

/// <summary>Which job to ask about.</summary>
public sealed record JobQuery(string ExecutionId, string Model, string Version);

/// <summary>A job's state and the trainer's latest progress line.</summary>
public sealed record TrainingJobStatus(string State, string? Line, string? Detail);

/// <summary>
/// The promotion decision, with both scores on the same held-out rows; <paramref name="BelowMinimum"/> names the
/// promotion minimum those rows missed, if any (then no promotion). The candidate's AUC is null only when they lack a class.
/// </summary>
public sealed record PromotionDecision(
    string Model, string Version, double? CandidateAuc, string? ChampionVersion, double? ChampionAuc, double Margin, bool Promote, string Reason, int EvaluationRows,
    int? EvaluationPositives = null, Training.MinimumNotMet? BelowMinimum = null);

/// <summary>
/// TrainModel: prepare the data → dispatch the training container job → watch it with durable timers (custom status
/// carries the trainer's progress; an overall timeout fails the orchestration with its reason) → evaluate the
/// candidate against the champion on the same held-out rows → promote when it wins by the configured margin →
/// optionally rescore the portfolio.
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

    /// <summary>The orchestrator.</summary>
    public static async Task<object?> RunAsync(TaskOrchestrationContext context)
    {
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

        var id = $"{prepared.Model}@{prepared.Version}";
        var started = context.CurrentUtcDateTime;
        var execution = await context.CallActivityAsync<string>("DispatchTrainingJob", prepared);
        context.Log($"TrainModel {context.InstanceId}: dispatched {id} as {execution}");
        var deadline = started.AddMinutes(prepared.TimeoutMinutes);
        while (true)
        {
            await context.CreateTimer(context.CurrentUtcDateTime.AddSeconds(prepared.PollSeconds));
            var status = await context.CallActivityAsync<TrainingJobStatus>("GetTrainingJobStatus", new JobQuery(execution, prepared.Model, prepared.Version));
            context.SetCustomStatus(new { phase = "training", model = id, execution, state = status.State, progress = status.Line });
            if (status.State == "succeeded")
            {
                break;
            }

            if (status.State == "failed")
            {
                context.SetCustomStatus(new { phase = "failed", step = "training", model = id, execution, reason = status.Detail, progress = status.Line });
                throw new InvalidOperationException($"Training job {execution} for {id} failed: {status.Detail}");
            }

            if (context.CurrentUtcDateTime > deadline)
            {
                throw new TimeoutException(string.Create(CultureInfo.InvariantCulture, $"Training job {execution} for {id} did not finish within {prepared.TimeoutMinutes} minutes (last progress: {status.Line ?? "none"}); TrainModel gave up."));
            }
        }

        context.SetCustomStatus(new { phase = "evaluating", model = id });
        var decision = await context.CallActivityAsync<PromotionDecision>("EvaluateCandidate", prepared);
        if (decision.Promote)
        {
            await context.CallActivityAsync<bool>("PromoteModel", decision);
        }

        RescoreResult? rescore = null;
        if (decision.Promote && prepared.Rescore)
        {
            context.SetCustomStatus(new { phase = "rescoring", model = id });
            rescore = await context.CallSubOrchestratorAsync<RescoreResult>("RescorePortfolio", new RescoreInput([prepared.Model]));
        }

        context.SetCustomStatus(new { phase = "done", model = id, promoted = decision.Promote, reason = decision.Reason });
        return new { model = id, curatedRun = prepared.RunManifest, execution, decision, rescore };
    }
}
