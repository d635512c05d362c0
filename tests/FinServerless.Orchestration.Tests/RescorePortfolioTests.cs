using FinServerless.Functions.Functions;
using Microsoft.DurableTask.Client;

namespace FinServerless.Orchestration.Tests;

/// <summary>RescorePortfolio's fan-out/fan-in on the Durable Task SDK's in-process host.</summary>
public sealed class RescorePortfolioTests
{
    [Fact]
    public async Task Plans_once_scores_every_partition_of_every_run_once_retries_a_transient_failure_and_commits_parts_in_order()
    {
        var script = new Script
        {
            Plan = new([Script.Item("r1", 17), Script.Item("r2", 1), Script.Item("r3", 30)], [new RescoreSkip("n", "v4", "p", "e", "no curated run")]),
        };
        script.FlakyPartitions.Add("r3/12");

        var done = await script.RunAsync(nameof(RescoreOrchestration.RescorePortfolio), new RescoreInput(null));

        Assert.True(done.RuntimeStatus == OrchestrationRuntimeStatus.Completed, done.FailureDetails?.ErrorMessage);
        Assert.Equal(1, script.Calls.Count(c => c == "PlanRescore"));
        Assert.Equal(1, script.Calls.Count(c => c == "CommitRescore"));
        foreach (var item in script.Plan.Items)
        {
            for (var p = 0; p < item.Parts.Count; p++)
            {
                Assert.Equal(item.RunId == "r3" && p == 12 ? 2 : 1, script.Attempts($"{item.RunId}/{p}"));
            }
        }

        var committed = script.Committed!;
        Assert.Equal([17, 1, 30], committed.Parts.Select(p => p.Count));
        for (var i = 0; i < committed.Plan.Items.Count; i++)
        {
            var item = committed.Plan.Items[i];
            Assert.Equal(item.Parts.Select((_, p) => $"scores/p/d/{item.RunId}/{item.ModelId}/part-{p:D5}.csv"), committed.Parts[i].Select(s => s.Part.Path));
        }

        var result = done.ReadOutputAs<RescoreResult>()!;
        Assert.Equal(3, result.Runs);
        Assert.Equal(script.Plan.Items.Sum(i => i.Parts.Sum(p => p.Rows)), result.Rows);
        Assert.Contains("\"skipped\":1", done.SerializedCustomStatus);
    }

    [Fact]
    public async Task Nothing_to_rescore_commits_an_empty_summary()
    {
        var script = new Script { Plan = new([], [new RescoreSkip("m", "v1", null, null, "the champion's manifest names no valid partner/dataset in its lineage")]) };

        var done = await script.RunAsync(nameof(RescoreOrchestration.RescorePortfolio), new RescoreInput(["m"]));

        Assert.True(done.RuntimeStatus == OrchestrationRuntimeStatus.Completed, done.FailureDetails?.ErrorMessage);
        Assert.Equal(0, done.ReadOutputAs<RescoreResult>()!.Runs);
        Assert.DoesNotContain(script.Calls, c => c.StartsWith("ScorePartition", StringComparison.Ordinal));
        Assert.Single(script.Committed!.Plan.Skipped);
    }
}
