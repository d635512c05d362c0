using FinServerless.Durable.Hosting;
using FinServerless.Durable.Orchestration;
using FinServerless.Durable.Protocol;

namespace FinServerless.Durable.Tests;

/// <summary>Whole orchestrations through the executor, with the in-process hub playing the backend.</summary>
public sealed class InProcessTaskHubTests
{
    [Fact]
    public async Task A_fan_out_of_1000_activities_fans_in_to_the_right_result()
    {
        var hub = new InProcessTaskHub()
            .Activity<int, int>("Square", x => Task.FromResult(x * x))
            .Orchestration("FanOut", async ctx =>
            {
                var tasks = Enumerable.Range(1, 1000).Select(i => ctx.CallActivityAsync<int>("Square", i)).ToList();
                var results = await Task.WhenAll(tasks);
                return results.Sum(r => (long)r);
            });

        var run = await hub.RunAsync("FanOut");

        Assert.Equal(OrchestrationStatus.Completed, run.Status);
        Assert.Equal(333_833_500L, run.OutputAs<long>());
        Assert.Equal(1000, run.History.Count(e => e.EventTypeCase == HistoryEvent.EventTypeOneofCase.TaskScheduled));
        Assert.Equal(2, run.Episodes);
    }

    [Fact]
    public async Task A_ten_day_timer_is_split_into_intervals_of_at_most_three_days()
    {
        var hub = new InProcessTaskHub().Orchestration("Wait", async ctx =>
        {
            await ctx.CreateTimer(TimeSpan.FromDays(10));
            return ctx.CurrentUtcDateTime;
        });

        var run = await hub.RunAsync("Wait");

        Assert.Equal(hub.Start.AddDays(10), run.OutputAs<DateTime>());
        var timers = run.History.Where(e => e.EventTypeCase == HistoryEvent.EventTypeOneofCase.TimerCreated).Select(e => e.TimerCreated.FireAt.ToDateTime()).ToList();
        Assert.Equal([hub.Start.AddDays(3), hub.Start.AddDays(6), hub.Start.AddDays(9), hub.Start.AddDays(10)], timers);
    }

    [Fact]
    public async Task An_external_event_that_arrives_in_time_wins_over_its_timeout()
    {
        var hub = new InProcessTaskHub().Orchestration("Approve", async ctx => await ctx.WaitForExternalEvent<string>("approval", TimeSpan.FromHours(1)));
        hub.RaiseEventAt(hub.Start.AddMinutes(10), "i-approve", "Approval", "granted");

        var run = await hub.RunAsync("Approve", instanceId: "i-approve");

        Assert.Equal("granted", run.OutputAs<string>());
    }

    [Fact]
    public async Task An_external_event_that_never_comes_times_out_into_a_handled_exception()
    {
        var hub = new InProcessTaskHub().Orchestration("Approve", async ctx =>
        {
            try
            {
                return await ctx.WaitForExternalEvent<string>("approval", TimeSpan.FromHours(1));
            }
            catch (TimeoutException)
            {
                return $"timed out at {ctx.CurrentUtcDateTime:HH:mm}";
            }
        });

        var run = await hub.RunAsync("Approve");

        Assert.Equal("timed out at 01:00", run.OutputAs<string>());
    }

    [Fact]
    public async Task An_event_without_timeout_waits_until_it_is_raised()
    {
        var hub = new InProcessTaskHub().Orchestration("Gate", async ctx => await ctx.WaitForExternalEvent<int>("go"));
        var waiting = await hub.RunAsync("Gate", instanceId: "gate-1");
        hub.RaiseEventAt(hub.Start.AddDays(2), "gate-2", "GO", 7);

        var released = await hub.RunAsync("Gate", instanceId: "gate-2");

        Assert.Equal(OrchestrationStatus.Running, waiting.Status);
        Assert.Equal(7, released.OutputAs<int>());
    }

    [Fact]
    public async Task A_sub_orchestration_returns_its_result_to_the_parent()
    {
        var hub = new InProcessTaskHub()
            .Activity<int, int>("Double", x => Task.FromResult(2 * x))
            .Orchestration("Child", async ctx => await ctx.CallActivityAsync<int>("Double", ctx.GetInput<int>()))
            .Orchestration("Parent", async ctx =>
            {
                var parts = await Task.WhenAll(Enumerable.Range(1, 4).Select(i => ctx.CallSubOrchestratorAsync<int>("Child", i)));
                return parts.Sum();
            });

        var run = await hub.RunAsync("Parent", instanceId: "parent");

        Assert.Equal(20, run.OutputAs<int>());
        Assert.Contains(run.History, e => e.SubOrchestrationInstanceCreated?.InstanceId == "parent:0000");
    }

    [Fact]
    public async Task ContinueAsNew_restarts_with_new_input_until_done()
    {
        var hub = new InProcessTaskHub().Orchestration("Count", async ctx =>
        {
            var n = ctx.GetInput<int>();
            await ctx.CreateTimer(TimeSpan.FromMinutes(1));
            if (n < 5)
            {
                ctx.ContinueAsNew(n + 1);
                return null;
            }

            return n;
        });

        var run = await hub.RunAsync("Count", 1);

        Assert.Equal(5, run.OutputAs<int>());
        Assert.Single(run.History, e => e.EventTypeCase == HistoryEvent.EventTypeOneofCase.TimerCreated);
    }

    [Fact]
    public async Task A_failing_activity_is_retried_with_backoff_timers_then_succeeds()
    {
        var attempts = 0;
        var hub = new InProcessTaskHub()
            .Activity("Flaky", _ => ++attempts < 3 ? throw new IOException("storage busy") : Task.FromResult<string?>("\"ok\""))
            .Orchestration("Retry", async ctx => await ctx.CallActivityAsync<string>("Flaky", null, TaskOptions.WithRetry(new RetryPolicy { MaxAttempts = 4, FirstRetryInterval = TimeSpan.FromSeconds(10) })));

        var run = await hub.RunAsync("Retry");

        Assert.Equal("ok", run.OutputAs<string>());
        Assert.Equal(3, attempts);
        var delays = run.History.Where(e => e.EventTypeCase == HistoryEvent.EventTypeOneofCase.TimerCreated).Select(e => e.TimerCreated.FireAt.ToDateTime() - hub.Start).ToList();
        Assert.Equal([TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30)], delays);
    }

    [Fact]
    public async Task Retries_give_up_after_the_last_attempt_and_the_orchestration_fails_with_the_cause()
    {
        var hub = new InProcessTaskHub()
            .Activity("Broken", _ => throw new InvalidDataException("input file is corrupt"))
            .Orchestration("Retry", async ctx => await ctx.CallActivityAsync<string>("Broken", null, TaskOptions.WithRetry(new RetryPolicy { MaxAttempts = 2, FirstRetryInterval = TimeSpan.FromSeconds(1) })));

        var run = await hub.RunAsync("Retry");

        Assert.Equal(OrchestrationStatus.Failed, run.Status);
        Assert.Equal("input file is corrupt", run.Failure!.InnerFailure.ErrorMessage);
        Assert.Equal(2, run.History.Count(e => e.EventTypeCase == HistoryEvent.EventTypeOneofCase.TaskScheduled));
    }

    [Fact]
    public async Task Guids_and_custom_status_are_deterministic_across_replays()
    {
        var guids = new List<Guid>();
        var hub = new InProcessTaskHub()
            .Activity("Step", _ => Task.FromResult<string?>(null))
            .Orchestration("Ids", async ctx =>
            {
                var id = ctx.NewGuid();
                guids.Add(id);
                ctx.SetCustomStatus(new { stage = "training", round = 3 });
                await ctx.CallActivityAsync("Step");
                await ctx.CallActivityAsync("Step");
                return id;
            });

        var run = await hub.RunAsync("Ids", instanceId: "fixed");

        Assert.Equal(3, guids.Count);
        Assert.Single(guids.Distinct());
        Assert.Equal(guids[0], run.OutputAs<Guid>());
        Assert.Equal("{\"stage\":\"training\",\"round\":3}", run.CustomStatus);
    }
}
