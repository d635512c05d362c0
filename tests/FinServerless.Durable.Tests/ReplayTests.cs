using FinServerless.Durable.Orchestration;
using FinServerless.Durable.Protocol;
using static FinServerless.Durable.Tests.History;

namespace FinServerless.Durable.Tests;

/// <summary>The executor against recorded histories: what it schedules, what it confirms, what it refuses.</summary>
public sealed class ReplayTests
{
    private static readonly Orchestrator Sequence = async ctx =>
    {
        var a = await ctx.CallActivityAsync<int>("Double", ctx.GetInput<int>());
        var b = await ctx.CallActivityAsync<int>("AddOne", a);
        return b;
    };

    [Fact]
    public void The_first_episode_schedules_the_first_activity_with_id_0()
    {
        var response = OrchestrationExecutor.Execute(Request([], [Started(), Execution("Sequence", "20")]), Sequence);

        var action = Assert.Single(response.Actions);
        Assert.Equal(0, action.Id);
        Assert.Equal("Double", action.ScheduleTask.Name);
        Assert.Equal("20", action.ScheduleTask.Input);
    }

    [Fact]
    public void A_completion_in_new_events_schedules_the_next_step_and_history_confirms_the_first()
    {
        var response = OrchestrationExecutor.Execute(
            Request([Started(), Execution("Sequence", "20"), Scheduled(0, "Double")], [Started(), Completed(0, "40")]),
            Sequence);

        var action = Assert.Single(response.Actions);
        Assert.Equal(1, action.Id);
        Assert.Equal("AddOne", action.ScheduleTask.Name);
        Assert.Equal("40", action.ScheduleTask.Input);
    }

    [Fact]
    public void The_last_completion_completes_the_orchestration_with_its_result()
    {
        var response = OrchestrationExecutor.Execute(
            Request([Started(), Execution("Sequence", "20"), Scheduled(0, "Double"), Started(), Completed(0, "40"), Scheduled(1, "AddOne")], [Started(), Completed(1, "41")]),
            Sequence);

        var action = Assert.Single(response.Actions);
        Assert.Equal(2, action.Id);
        Assert.Equal(OrchestrationStatus.Completed, action.CompleteOrchestration.OrchestrationStatus);
        Assert.Equal("41", action.CompleteOrchestration.Result);
    }

    [Fact]
    public void History_that_contradicts_the_code_fails_the_orchestration_naming_the_step()
    {
        var response = OrchestrationExecutor.Execute(
            Request([Started(), Execution("Sequence", "20"), Scheduled(0, "Triple")], [Started(), Completed(0, "60")]),
            Sequence);

        var complete = Assert.Single(response.Actions).CompleteOrchestration;
        Assert.Equal(OrchestrationStatus.Failed, complete.OrchestrationStatus);
        Assert.Equal(nameof(NonDeterministicOrchestrationException), complete.FailureDetails.ErrorType);
        Assert.Contains("step 0", complete.FailureDetails.ErrorMessage);
        Assert.Contains("'Triple'", complete.FailureDetails.ErrorMessage);
        Assert.Contains("'Double'", complete.FailureDetails.ErrorMessage);
    }

    [Fact]
    public void A_timer_in_history_where_the_code_now_calls_an_activity_is_nondeterministic()
    {
        var response = OrchestrationExecutor.Execute(
            Request([Started(), Execution("Sequence", "1"), TimerCreated(0, T0.AddHours(1))], [TimerFired(0, T0.AddHours(1))]),
            Sequence);

        var failure = Assert.Single(response.Actions).CompleteOrchestration.FailureDetails;
        Assert.Contains("created a timer, but the code now schedules activity 'Double'", failure.ErrorMessage);
    }

    [Fact]
    public void An_activity_failure_surfaces_as_a_typed_exception_and_fails_the_orchestration_with_its_details()
    {
        TaskFailedException? seen = null;
        Orchestrator orchestrator = async ctx =>
        {
            try
            {
                return await ctx.CallActivityAsync<int>("Score", 1);
            }
            catch (TaskFailedException ex)
            {
                seen = ex;
                throw;
            }
        };

        var response = OrchestrationExecutor.Execute(
            Request([Started(), Execution("Orch", null), Scheduled(0, "Score")], [Started(), Failed(0, "ModelException", "model gone")]),
            orchestrator);

        Assert.Equal("ModelException", seen!.FailureDetails.ErrorType);
        var complete = Assert.Single(response.Actions).CompleteOrchestration;
        Assert.Equal(OrchestrationStatus.Failed, complete.OrchestrationStatus);
        Assert.Equal("model gone", complete.FailureDetails.InnerFailure.ErrorMessage);
    }

    [Fact]
    public void Time_comes_from_history_and_is_the_same_on_replay()
    {
        var times = new List<DateTime>();
        Orchestrator orchestrator = async ctx =>
        {
            times.Add(ctx.CurrentUtcDateTime);
            await ctx.CallActivityAsync("Step");
            times.Add(ctx.CurrentUtcDateTime);
            return null;
        };

        OrchestrationExecutor.Execute(Request([Started(T0), Execution("Orch", null), Scheduled(0, "Step")], [Started(T0.AddMinutes(5)), Completed(0, null)]), orchestrator);

        Assert.Equal([T0, T0.AddMinutes(5)], times);
    }

    [Fact]
    public void Events_that_arrive_before_anyone_waits_are_buffered_and_matched_case_insensitively()
    {
        Orchestrator orchestrator = async ctx =>
        {
            await ctx.CallActivityAsync("Prepare");
            return await ctx.WaitForExternalEvent<string>("Approval");
        };

        var response = OrchestrationExecutor.Execute(
            Request([Started(), Execution("Orch", null), Scheduled(0, "Prepare")], [Started(), Raised("APPROVAL", "\"yes\""), Completed(0, null)]),
            orchestrator);

        Assert.Equal("\"yes\"", Assert.Single(response.Actions).CompleteOrchestration.Result);
    }

    [Fact]
    public void Replaying_does_not_repeat_log_lines_or_actions_already_in_history()
    {
        var lines = new List<string>();
        Orchestrator orchestrator = async ctx =>
        {
            ctx.Log("starting");
            await ctx.CallActivityAsync("A");
            ctx.Log("after A");
            await ctx.CallActivityAsync("B");
            return null;
        };

        var response = OrchestrationExecutor.Execute(
            Request([Started(), Execution("Orch", null), Scheduled(0, "A")], [Started(), Completed(0, null)]),
            orchestrator,
            new OrchestrationExecutorOptions { Log = lines.Add });

        Assert.Equal("B", Assert.Single(response.Actions).ScheduleTask.Name);
        Assert.Single(lines);
        Assert.EndsWith("after A", lines[0]);
    }

    [Fact]
    public void The_trigger_envelope_is_base64_protobuf_both_ways()
    {
        var request = Request([], [Started(), Execution("Sequence", "3")]);

        var reply = OrchestrationExecutor.ExecuteBase64(Convert.ToBase64String(Google.Protobuf.MessageExtensions.ToByteArray(request)), Sequence);

        var response = OrchestratorResponse.Parser.ParseFrom(Convert.FromBase64String(reply));
        Assert.Equal("Double", response.Actions[0].ScheduleTask.Name);
        Assert.Throws<ArgumentException>(() => OrchestrationExecutor.ExecuteBase64("not base64!", Sequence));
    }
}
