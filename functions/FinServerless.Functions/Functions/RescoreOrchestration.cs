using Microsoft.Azure.Functions.Worker;
using Microsoft.DurableTask;
using FinServerless.Scoring;

namespace FinServerless.Functions.Functions;

/// <summary>Which models to rescore with (null: every model with a champion).</summary>
public sealed record RescoreInput(List<string>? Models);

/// <summary>One run to score with one champion (or why it is skipped).</summary>
public sealed record RescoreItem(string RunManifest, string Partner, string Dataset, string RunId, string Model, string Version, int Parts, string? Skipped = null);

/// <summary>One part of one run.</summary>
public sealed record PartitionWork(string RunManifest, string Model, int Part);

/// <summary>The fan-in: every item with its scored parts, in part order.</summary>
public sealed record RescoreCommit(string InstanceId, List<RescoreItem> Items, List<List<ScoredPart>> Parts);

/// <summary>One committed score run with its drift.</summary>
public sealed record RescoredRun(string Partner, string Dataset, string RunId, string Model, long Rows, string ScoreManifest, IReadOnlyDictionary<string, long> Bands, string WorstDrift, IReadOnlyList<Datasets.Profiling.FeatureDrift> Drift);

/// <summary>The rescoring summary (also written to scores/_rescore/{instance}/summary.json).</summary>
public sealed record RescoreSummary(string InstanceId, DateTimeOffset CreatedAt, string Path, List<RescoredRun> Runs, List<RescoreItem> Skipped);

/// <summary>What RescorePortfolio returns.</summary>
public sealed record RescoreResult(string Summary, long Rows, int Runs);

/// <summary>
/// RescorePortfolio: the latest curated run per partner and dataset that a champion was trained for → one scoring
/// activity per part (fan-out) → fan-in → each score run committed by its manifest, and a summary with drift
/// against the champion's training profile.
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
        var items = await context.CallActivityAsync<List<RescoreItem>>("ListLatestRuns", input);
        var work = items.Where(i => i.Skipped is null).ToList();
        context.SetCustomStatus(new { phase = "scoring", runs = work.Count, partitions = work.Sum(i => i.Parts) });
        var tasks = work.Select(item => Enumerable.Range(0, item.Parts)
            .Select(p => context.CallActivityAsync<ScoredPart>("ScorePartition", new PartitionWork(item.RunManifest, $"{item.Model}@{item.Version}", p), Retried))
            .ToList()).ToList();
        await Task.WhenAll(tasks.SelectMany(t => t));
        var summary = await context.CallActivityAsync<RescoreSummary>("CommitRescore", new RescoreCommit(
            context.InstanceId, items, tasks.Select(t => t.Select(x => x.Result).ToList()).ToList()));
        context.SetCustomStatus(new { phase = "done", runs = summary.Runs.Count, rows = summary.Runs.Sum(r => r.Rows) });
        return new RescoreResult(summary.Path, summary.Runs.Sum(r => r.Rows), summary.Runs.Count);
    }
}
