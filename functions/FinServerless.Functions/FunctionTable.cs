using FinServerless.Functions.Functions;
using FinServerless.Functions.Handler;

namespace FinServerless.Functions;

/// <summary>One entry per function folder (function.json); the names are those the host calls.</summary>
public static class FunctionTable
{
    /// <summary>Function name → invocation.</summary>
    public static IReadOnlyDictionary<string, Func<InvocationRequest, CancellationToken, Task<InvocationResponse>>> Create(AppServices app) =>
        new Dictionary<string, Func<InvocationRequest, CancellationToken, Task<InvocationResponse>>>(StringComparer.OrdinalIgnoreCase)
        {
            ["IngestDataset"] = (r, ct) => IngestFunctions.IngestDatasetAsync(app, r, ct),
            ["ScoreBatch"] = (r, ct) => ScoringFunctions.ScoreBatchAsync(app, r, ct),
            ["SubmitScoreJob"] = (r, ct) => ScoringFunctions.SubmitScoreJobAsync(app, r, ct),
            ["ScoreJobWorker"] = (r, ct) => ScoringFunctions.ScoreJobWorkerAsync(app, r, ct),
            ["GetScoreJob"] = (r, ct) => ScoringFunctions.GetScoreJobAsync(app, r, ct),
            ["StartTraining"] = (r, ct) => DurableClient.StartAsync(r, "TrainModel", r.Http().Body, ct),
            ["NightlyRescore"] = (r, ct) => DurableClient.StartAsync(r, "RescorePortfolio", "{}", ct),
            ["TrainModel"] = (r, _) => Task.FromResult(Orchestrations.Run(r, TrainingOrchestration.RunAsync)),
            ["RescorePortfolio"] = (r, _) => Task.FromResult(Orchestrations.Run(r, RescoreOrchestration.RunAsync)),
            ["PrepareTraining"] = (r, ct) => Activities.Run<TrainModelInput, PreparedTraining>(r, i => TrainingActivities.PrepareAsync(app, i, ct)),
            ["DispatchTrainingJob"] = (r, ct) => Activities.Run<PreparedTraining, string>(r, i => TrainingActivities.DispatchAsync(app, i, ct)),
            ["GetTrainingJobStatus"] = (r, ct) => Activities.Run<JobQuery, TrainingJobStatus>(r, i => TrainingActivities.StatusAsync(app, i, ct)),
            ["EvaluateCandidate"] = (r, ct) => Activities.Run<PreparedTraining, PromotionDecision>(r, i => TrainingActivities.EvaluateAsync(app, i, ct)),
            ["PromoteModel"] = (r, ct) => Activities.Run<PromotionDecision, bool>(r, i => TrainingActivities.PromoteAsync(app, i, ct)),
            ["ListLatestRuns"] = (r, ct) => Activities.Run<RescoreInput, List<RescoreItem>>(r, i => RescoreActivities.ListLatestRunsAsync(app, i, ct)),
            ["ScorePartition"] = (r, ct) => Activities.Run<PartitionWork, FinServerless.Scoring.ScoredPart>(r, i => RescoreActivities.ScorePartitionAsync(app, i, ct)),
            ["CommitRescore"] = (r, ct) => Activities.Run<RescoreCommit, RescoreSummary>(r, i => RescoreActivities.CommitAsync(app, i, ct)),
            ["ListModels"] = (r, ct) => ReadFunctions.ModelsAsync(app, r, ct),
            ["ListRuns"] = (r, ct) => ReadFunctions.RunsAsync(app, r, ct),
            ["Health"] = (r, ct) => ReadFunctions.HealthAsync(app, r, ct),
        };
}
