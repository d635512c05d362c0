using FinServerless.Datasets.Ingest;
using FinServerless.Scoring;
using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;

namespace FinServerless.Functions.Functions;

/// <summary>Which models to rescore with (null: every model with a champion).</summary>
public sealed record RescoreInput(List<string>? Models);

/// <summary>
/// One run to score with one champion, fixed when rescoring is planned: the run's manifest and its SHA-256, each part
/// with its SHA-256, the model version and its ONNX file's SHA-256. Partitions read only their part.
/// </summary>
public sealed record RescoreItem(
    string Partner, string Dataset, string RunId, string RunManifest, string ManifestSha256,
    string Model, string Version, string ModelSha256, List<string> IdColumns, List<RunPart> Parts)
{
    /// <summary>"model@version".</summary>
    public string ModelId => $"{Model}@{Version}";

    /// <summary>Partition <paramref name="index"/> of this item.</summary>
    public PartitionWork Partition(int index) => new(new PartToScore(Partner, Dataset, RunId, index, Parts[index], IdColumns), ModelId, ModelSha256);
}

/// <summary>A champion that is not rescored, and why.</summary>
public sealed record RescoreSkip(string Model, string? Version, string? Partner, string? Dataset, string Reason);

/// <summary>What PlanRescore decides once for the whole rescoring: the items to score and what is skipped.</summary>
public sealed record RescorePlan(List<RescoreItem> Items, List<RescoreSkip> Skipped)
{
    /// <summary>Partitions over every item.</summary>
    public int Partitions => Items.Sum(i => i.Parts.Count);
}

/// <summary>One part of one run, with the model version and its ONNX file's SHA-256 as planned.</summary>
public sealed record PartitionWork(PartToScore Part, string Model, string ModelSha256);

/// <summary>The fan-in: the plan with every item's scored parts, in part order.</summary>
public sealed record RescoreCommit(string InstanceId, RescorePlan Plan, List<List<ScoredPart>> Parts);

/// <summary>One committed score run with its drift.</summary>
public sealed record RescoredRun(string Partner, string Dataset, string RunId, string Model, long Rows, string ScoreManifest, IReadOnlyDictionary<string, long> Bands, string WorstDrift, IReadOnlyList<Datasets.Profiling.FeatureDrift> Drift);

/// <summary>The rescoring summary (also written to scores/_rescore/{instance}/summary.json).</summary>
public sealed record RescoreSummary(string InstanceId, DateTimeOffset CreatedAt, string Path, List<RescoredRun> Runs, List<RescoreSkip> Skipped);

/// <summary>What RescorePortfolio returns.</summary>
public sealed record RescoreResult(string Summary, long Rows, int Runs);

/// <summary>
/// RescorePortfolio: plan once (for each champion, the latest curated run of the dataset it was trained on, from
/// ingest's latest.json pointer) → one scoring activity per part (fan-out), each reading only its part → fan-in →
/// each score run committed by its manifest, and a summary with drift against the champion's training profile.
/// </summary>
public static class RescoreOrchestration
{
    /// <summary>A part that fails is retried (it writes only its own part file, so a retry is safe).</summary>
    private static readonly TaskOptions Retried = new(new TaskRetryOptions(new RetryPolicy(3, TimeSpan.FromSeconds(2), backoffCoefficient: 2)));

    /// <summary>The orchestrator.</summary>
    [Function(nameof(RescorePortfolio))]
    public static async Task<RescoreResult> RescorePortfolio([OrchestrationTrigger] TaskOrchestrationContext context)
    {
        var input = context.GetInput<RescoreInput>() ?? new RescoreInput(null);
        context.SetCustomStatus(new { phase = "planning" });
        var plan = await context.CallActivityAsync<RescorePlan>("PlanRescore", input);
        context.SetCustomStatus(new { phase = "scoring", runs = plan.Items.Count, partitions = plan.Partitions, skipped = plan.Skipped.Count });
        var tasks = plan.Items
            .Select(item => Enumerable.Range(0, item.Parts.Count).Select(p => context.CallActivityAsync<ScoredPart>("ScorePartition", item.Partition(p), Retried)).ToList())
            .ToList();
        await Task.WhenAll(tasks.SelectMany(t => t));
        var summary = await context.CallActivityAsync<RescoreSummary>("CommitRescore", new RescoreCommit(context.InstanceId, plan, tasks.Select(t => t.Select(x => x.Result).ToList()).ToList()));
        context.SetCustomStatus(new { phase = "done", runs = summary.Runs.Count, rows = summary.Runs.Sum(r => r.Rows), skipped = summary.Skipped.Count });
        return new RescoreResult(summary.Path, summary.Runs.Sum(r => r.Rows), summary.Runs.Count);
    }
}
