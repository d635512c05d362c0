using FinServerless.Contracts;
using FinServerless.Functions.Functions;
using Microsoft.DurableTask.Client;

namespace FinServerless.Orchestration.Tests;

/// <summary>TrainModel's logic on the Durable Task SDK's in-process host: promotion, timeout, failure paths, rescoring.</summary>
public sealed class TrainModelTests
{
    private static readonly TrainModelInput Input = new() { Partner = "p", Dataset = "d", Model = "m" };

    [Theory]
    [InlineData(null, 0.80, null, true, "no champion yet")]
    [InlineData("v1", 0.80, 0.79, true, "wins by the margin")]
    [InlineData("v1", 0.80, 0.799, false, "does not win by the margin")]
    [InlineData("v1", 0.802, 0.800, true, "wins by the margin")] // a gain equal to the margin wins
    [InlineData("v1", 0.8019, 0.800, false, "does not win by the margin")]
    public async Task Promotes_only_a_candidate_that_beats_the_champion_by_the_margin_or_the_first_one(string? champion, double candidateAuc, double? championAuc, bool promoted, string reason)
    {
        var script = new Script
        {
            CurrentChampion = champion,
            Status = poll => poll < 3
                ? new TrainingJobStatus(JobState.Running, $"progress step={poll}", null)
                : Script.Succeeded(new HeldOutComparison(2000, 400, candidateAuc, champion, championAuc)),
        };

        var done = await script.RunAsync(nameof(TrainingOrchestration.TrainModel), Input);

        Assert.True(done.RuntimeStatus == OrchestrationRuntimeStatus.Completed, done.FailureDetails?.ErrorMessage);
        var result = done.ReadOutputAs<TrainModelResult>()!;
        Assert.Equal(promoted, result.Decision.Promote);
        Assert.Contains(reason, result.Decision.Reason);
        Assert.Equal(3, script.Polls); // watched until the status said succeeded, then no more
        Assert.Equal(promoted ? 1 : 0, script.Calls.Count(c => c == "PromoteModel"));
        Assert.Equal(["PrepareTraining", "DispatchTrainingJob", "GetTrainingJobStatus", "GetTrainingJobStatus", "GetTrainingJobStatus", "DecidePromotion", .. promoted ? new[] { "PromoteModel" } : []], script.Calls);
        Assert.Contains("\"phase\":\"done\"", done.SerializedCustomStatus);
    }

    [Fact]
    public async Task A_champion_that_changed_while_the_job_ran_is_not_replaced_and_held_out_rows_below_the_minimum_decide_nothing()
    {
        var changed = new Script { CurrentChampion = "v9", Status = _ => Script.Succeeded(new HeldOutComparison(2000, 400, 0.9, "v1", 0.7)) };
        var result = (await changed.RunAsync(nameof(TrainingOrchestration.TrainModel), Input)).ReadOutputAs<TrainModelResult>()!;
        Assert.False(result.Decision.Promote);
        Assert.Contains("the champion became v9 while the job ran", result.Decision.Reason);

        var few = new Script { CurrentChampion = "v1", Status = _ => Script.Succeeded(new HeldOutComparison(150, 40, 0.9, "v1", 0.7)) };
        var small = (await few.RunAsync(nameof(TrainingOrchestration.TrainModel), Input)).ReadOutputAs<TrainModelResult>()!;
        Assert.False(small.Decision.Promote);
        Assert.Equal("FINSERVERLESS_PROMOTION_MIN_ROWS", small.Decision.BelowMinimum!.Setting);
        Assert.Contains("the champion stays v1", small.Decision.Reason);
        Assert.DoesNotContain("PromoteModel", few.Calls);
    }

    [Fact]
    public async Task A_job_that_runs_past_the_timeout_fails_the_orchestration_with_its_last_progress_and_decides_nothing()
    {
        var script = new Script { TimeoutMinutes = 0.02, PollSeconds = 0.2, Status = poll => new TrainingJobStatus(JobState.Running, $"progress step={poll}", null) };

        var done = await script.RunAsync(nameof(TrainingOrchestration.TrainModel), Input);

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.RuntimeStatus);
        Assert.Contains("did not finish within 0.02 minutes (last progress: progress step=", done.FailureDetails!.ErrorMessage);
        Assert.Contains("\"reason\":\"timed out\"", done.SerializedCustomStatus);
        Assert.InRange(script.Polls, 1, 10); // bounded by timeout / poll interval
        Assert.DoesNotContain("DecidePromotion", script.Calls);
    }

    [Fact]
    public async Task A_failed_job_fails_the_orchestration_with_the_trainers_reason()
    {
        var script = new Script
        {
            Status = poll => poll == 1
                ? new TrainingJobStatus(JobState.Running, "progress step=1", null)
                : new TrainingJobStatus(JobState.Failed, "progress step=2", "bad input: the training data has only one class"),
        };

        var done = await script.RunAsync(nameof(TrainingOrchestration.TrainModel), Input);

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.RuntimeStatus);
        Assert.Contains("failed: bad input: the training data has only one class", done.FailureDetails!.ErrorMessage);
        Assert.Contains("\"step\":\"training\"", done.SerializedCustomStatus);
        Assert.Equal(2, script.Polls);
        Assert.DoesNotContain("DecidePromotion", script.Calls);
        Assert.DoesNotContain("PromoteModel", script.Calls);
    }

    [Fact]
    public async Task A_refused_preparation_fails_before_any_job_starts()
    {
        var script = new Script { PrepareFailure = new InvalidOperationException("TrainModel refused: the curated run has 400 rows") };

        var done = await script.RunAsync(nameof(TrainingOrchestration.TrainModel), Input);

        Assert.Equal(OrchestrationRuntimeStatus.Failed, done.RuntimeStatus);
        Assert.Contains("TrainModel refused: the curated run has 400 rows", done.FailureDetails!.ErrorMessage);
        Assert.Contains("\"step\":\"preparing\"", done.SerializedCustomStatus);
        Assert.Equal(["PrepareTraining"], script.Calls);
    }

    [Fact]
    public async Task A_promoted_candidate_rescores_the_portfolio_when_asked()
    {
        var script = new Script { Rescore = true, Plan = new([Script.Item("r1", 3)], []) };

        var done = await script.RunAsync(nameof(TrainingOrchestration.TrainModel), Input);

        Assert.True(done.RuntimeStatus == OrchestrationRuntimeStatus.Completed, done.FailureDetails?.ErrorMessage);
        var result = done.ReadOutputAs<TrainModelResult>()!;
        Assert.True(result.Decision.Promote);
        Assert.Equal(1, result.Rescore!.Runs);
        Assert.Equal(10 + 11 + 12, result.Rescore.Rows);
        Assert.Equal(3, script.Calls.Count(c => c.StartsWith("ScorePartition", StringComparison.Ordinal)));
    }
}
