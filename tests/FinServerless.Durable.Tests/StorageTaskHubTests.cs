using System.Collections.Concurrent;
using System.Text.Json;
using Azure.Storage.Queues;
using FinServerless.Connections;
using FinServerless.Durable.Backend;
using FinServerless.Durable.Orchestration;
using FinServerless.Durable.Protocol;
using FinServerless.Testing;

namespace FinServerless.Durable.Tests;

/// <summary>The storage task hub on a real Azurite, with orchestrators run by the replay executor.</summary>
public sealed class StorageTaskHubTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private static readonly Dictionary<string, Orchestrator> Orchestrators = new(StringComparer.OrdinalIgnoreCase)
    {
        ["Sequence"] = async ctx =>
        {
            var a = await ctx.CallActivityAsync<int>("Double", ctx.GetInput<int>());
            return await ctx.CallActivityAsync<int>("AddOne", a);
        },
        ["FanOut"] = async ctx =>
        {
            var n = ctx.GetInput<int>();
            ctx.SetCustomStatus(new { scheduled = n });
            var results = await Task.WhenAll(Enumerable.Range(1, n).Select(i => ctx.CallActivityAsync<int>("Double", i)));
            return results.Sum();
        },
        ["Approval"] = async ctx =>
        {
            try
            {
                return await ctx.WaitForExternalEvent<string>("decision", TimeSpan.FromSeconds(2));
            }
            catch (TimeoutException)
            {
                return "no answer";
            }
        },
        ["Parent"] = async ctx => await ctx.CallSubOrchestratorAsync<int>("Sequence", 5) + 1000,
        ["Forever"] = async ctx =>
        {
            await ctx.WaitForExternalEvent<string>("never");
            return null;
        },
        ["Counter"] = async ctx =>
        {
            var n = ctx.GetInput<int>();
            await ctx.CallActivityAsync<int>("Double", n);
            if (n < 3)
            {
                ctx.ContinueAsNew(n + 1);
                return null;
            }

            return n;
        },
        ["Generations"] = async ctx =>
        {
            // Generation 1 runs task 0 and continues as new; generation 2 waits, then runs its own task 0.
            if (ctx.GetInput<int>() == 1)
            {
                await ctx.CallActivityAsync<int>("Double", 1);
                ctx.ContinueAsNew(2);
                return null;
            }

            await ctx.WaitForExternalEvent<string>("go");
            return await ctx.CallActivityAsync<int>("Double", 21);
        },
        ["SlowOne"] = async ctx => await ctx.CallActivityAsync<int>("Slow", ctx.GetInput<int>()),
    };

    private static readonly ConcurrentDictionary<string, int> Calls = new();

    private static Task<OrchestratorResponse> RunOrchestrator(string name, OrchestratorRequest request, CancellationToken _) =>
        Task.FromResult(OrchestrationExecutor.Execute(request, Orchestrators[name]));

    private static async Task<ActivityResult> RunActivity(string name, string instanceId, string? input, CancellationToken _)
    {
        Calls.AddOrUpdate($"{instanceId}/{name}/{input}", 1, (_, n) => n + 1);
        var x = input is null ? 0 : JsonSerializer.Deserialize<int>(input);
        await Task.Yield();
        return name switch
        {
            "Double" => ActivityResult.Success(JsonSerializer.Serialize(2 * x)),
            "AddOne" => ActivityResult.Success(JsonSerializer.Serialize(x + 1)),
            "Slow" => await SlowAsync(x),
            _ => ActivityResult.Fail("ActivityNotFound", $"no activity '{name}'"),
        };
    }

    private static async Task<ActivityResult> SlowAsync(int x)
    {
        await Task.Delay(TimeSpan.FromSeconds(7));
        return ActivityResult.Success(JsonSerializer.Serialize(x));
    }

    private StorageTaskHub Hub(string name, TimeSpan? visibility = null, Action<string>? log = null) =>
        new(StorageConnection.FromConnectionString(azurite.ConnectionString), new TaskHubOptions { HubName = name, VisibilityTimeout = visibility ?? TimeSpan.FromSeconds(30), MaxPollInterval = TimeSpan.FromMilliseconds(100), Log = log });

    private static string HubName() => "h" + Guid.NewGuid().ToString("N")[..12];

    [Fact]
    public async Task A_sequence_runs_to_completion_with_its_result_and_history()
    {
        var hub = Hub(HubName());
        await hub.CreateIfNotExistsAsync();
        using var stop = new CancellationTokenSource();
        var worker = hub.RunAsync(RunOrchestrator, RunActivity, stop.Token);

        var id = await hub.StartAsync("Sequence", "20");
        var state = await hub.WaitForCompletionAsync(id, TimeSpan.FromSeconds(30));
        var (_, history) = (await hub.GetAsync(id))!.Value;
        stop.Cancel();
        await worker;

        Assert.Equal(OrchestrationStatus.Completed, state.OrchestrationStatus);
        Assert.Equal("41", state.Output);
        Assert.Equal(2, history.Count(e => e.EventTypeCase == HistoryEvent.EventTypeOneofCase.TaskScheduled));
        Assert.Contains(history, e => e.EventTypeCase == HistoryEvent.EventTypeOneofCase.ExecutionCompleted);
    }

    [Fact]
    public async Task A_fan_out_of_1000_activities_completes_with_the_right_result()
    {
        var hub = Hub(HubName());
        await hub.CreateIfNotExistsAsync();
        using var stop = new CancellationTokenSource();
        var worker = hub.RunAsync(RunOrchestrator, RunActivity, stop.Token);

        var id = await hub.StartAsync("FanOut", "1000");
        var state = await hub.WaitForCompletionAsync(id, TimeSpan.FromMinutes(2));
        stop.Cancel();
        await worker;

        Assert.Equal(OrchestrationStatus.Completed, state.OrchestrationStatus);
        Assert.Equal("1001000", state.Output);
        Assert.Equal("{\"scheduled\":1000}", state.CustomStatus);
    }

    [Fact]
    public async Task A_host_stopped_mid_fan_out_is_replaced_by_another_that_finishes_it()
    {
        var name = HubName();
        var first = Hub(name, TimeSpan.FromSeconds(3));
        await first.CreateIfNotExistsAsync();
        using var stopFirst = new CancellationTokenSource();
        var firstWorker = first.RunAsync(RunOrchestrator, RunActivity, stopFirst.Token);
        var id = await first.StartAsync("FanOut", "300");
        while ((await first.GetAsync(id))?.History.Count(e => e.EventTypeCase == HistoryEvent.EventTypeOneofCase.TaskCompleted) is null or < 20)
        {
            await Task.Delay(20);
        }

        stopFirst.Cancel();
        await firstWorker;
        var midway = (await first.GetAsync(id))!.Value.State.OrchestrationStatus;

        var second = Hub(name, TimeSpan.FromSeconds(3));
        using var stopSecond = new CancellationTokenSource();
        var secondWorker = second.RunAsync(RunOrchestrator, RunActivity, stopSecond.Token);
        var state = await second.WaitForCompletionAsync(id, TimeSpan.FromMinutes(2));
        stopSecond.Cancel();
        await secondWorker;

        Assert.Equal(OrchestrationStatus.Running, midway);
        Assert.Equal(OrchestrationStatus.Completed, state.OrchestrationStatus);
        Assert.Equal("90300", state.Output);
    }

    [Fact]
    public async Task Two_hosts_sharing_a_hub_finish_fan_outs_together_despite_each_ones_cached_state_going_stale()
    {
        var name = HubName();
        var log = new ConcurrentQueue<string>();
        var (a, b) = (Hub(name, log: log.Enqueue), Hub(name, log: log.Enqueue));
        await a.CreateIfNotExistsAsync();
        using var stop = new CancellationTokenSource();
        var workers = new[] { a.RunAsync(RunOrchestrator, RunActivity, stop.Token), b.RunAsync(RunOrchestrator, RunActivity, stop.Token) };

        var ids = new List<string>();
        for (var i = 0; i < 4; i++)
        {
            ids.Add(await (i % 2 == 0 ? a : b).StartAsync("FanOut", "200"));
        }

        var states = new List<OrchestrationState>();
        foreach (var id in ids)
        {
            states.Add(await a.WaitForCompletionAsync(id, TimeSpan.FromMinutes(2)));
        }

        stop.Cancel();
        await Task.WhenAll(workers);

        Assert.All(states, s => Assert.Equal(OrchestrationStatus.Completed, s.OrchestrationStatus));
        Assert.All(states, s => Assert.Equal("40200", s.Output));
        Assert.Contains(log, l => l.Contains("changed under us", StringComparison.Ordinal)); // the hosts did collide
    }

    [Fact]
    public async Task External_events_timers_sub_orchestrations_and_continue_as_new_work_on_storage()
    {
        var hub = Hub(HubName());
        await hub.CreateIfNotExistsAsync();
        using var stop = new CancellationTokenSource();
        var worker = hub.RunAsync(RunOrchestrator, RunActivity, stop.Token);

        var answered = await hub.StartAsync("Approval", null);
        await Task.Delay(300);
        await hub.RaiseEventAsync(answered, "DECISION", "\"approved\"");
        var unanswered = await hub.StartAsync("Approval", null);
        var parent = await hub.StartAsync("Parent", null, "parent-1");
        var counter = await hub.StartAsync("Counter", "1");

        var results = new Dictionary<string, OrchestrationState>();
        foreach (var id in new[] { answered, unanswered, parent, counter })
        {
            results[id] = await hub.WaitForCompletionAsync(id, TimeSpan.FromSeconds(60));
        }

        stop.Cancel();
        await worker;

        Assert.Equal("\"approved\"", results[answered].Output);
        Assert.Equal("\"no answer\"", results[unanswered].Output);
        Assert.Equal("1011", results[parent].Output);
        Assert.Equal("3", results[counter].Output);
    }

    [Fact]
    public async Task A_late_result_of_an_execution_that_continued_as_new_is_dropped_not_applied_to_the_new_one()
    {
        var name = HubName();
        var log = new ConcurrentQueue<string>();
        var hub = Hub(name, log: log.Enqueue);
        await hub.CreateIfNotExistsAsync();
        using var stop = new CancellationTokenSource();
        var worker = hub.RunAsync(RunOrchestrator, RunActivity, stop.Token);

        var id = await hub.StartAsync("Generations", "1");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && ((await hub.GetAsync(id))?.History is not { } h || h.All(e => e.EventTypeCase != HistoryEvent.EventTypeOneofCase.ExecutionStarted) || (await hub.GetAsync(id))!.Value.State.Input != "2"))
        {
            await Task.Delay(50);
        }

        // A duplicate delivery of generation 1's result for task 0, arriving after the instance moved on.
        var late = new ControlMessage
        {
            InstanceId = id,
            Generation = 1,
            Event = new HistoryEvent { EventId = -1, Timestamp = Google.Protobuf.WellKnownTypes.Timestamp.FromDateTime(DateTime.UtcNow), TaskCompleted = new TaskCompletedEvent { TaskScheduledId = 0, Result = "999" } },
        };
        // The hub's own wire format: base64 of the protobuf bytes, sent as is (no second base64 by the SDK).
        await StorageConnection.FromConnectionString(azurite.ConnectionString).CreateQueueServiceClient(QueueMessageEncoding.None).GetQueueClient($"{name}-control")
            .SendMessageAsync(Convert.ToBase64String(Google.Protobuf.MessageExtensions.ToByteArray(late)));
        deadline = DateTime.UtcNow.AddSeconds(10);
        while (DateTime.UtcNow < deadline && !log.Any(l => l.Contains("dropped 1 event(s) of an earlier execution", StringComparison.Ordinal)))
        {
            await Task.Delay(50);
        }

        await hub.RaiseEventAsync(id, "go", "\"now\"");
        var state = await hub.WaitForCompletionAsync(id, TimeSpan.FromSeconds(30));
        stop.Cancel();
        await worker;

        Assert.Equal(OrchestrationStatus.Completed, state.OrchestrationStatus);
        Assert.Equal("42", state.Output);
    }

    [Fact]
    public async Task An_activity_running_past_the_visibility_timeout_keeps_its_message_and_runs_once()
    {
        var hub = Hub(HubName(), TimeSpan.FromSeconds(2));
        await hub.CreateIfNotExistsAsync();
        using var stop = new CancellationTokenSource();
        var worker = hub.RunAsync(RunOrchestrator, RunActivity, stop.Token);

        var id = await hub.StartAsync("SlowOne", "5");
        var state = await hub.WaitForCompletionAsync(id, TimeSpan.FromSeconds(60));
        await Task.Delay(3000); // time for a second copy to show up, were the message visible again
        stop.Cancel();
        await worker;

        Assert.Equal(OrchestrationStatus.Completed, state.OrchestrationStatus);
        Assert.Equal("5", state.Output);
        Assert.Equal(1, Calls[$"{id}/Slow/5"]); // 7 s of work under a 2 s timeout: without renewal it would run 3–4 times
    }

    [Fact]
    public async Task Terminate_purge_list_and_duplicate_ids_behave_like_the_management_API()
    {
        var hub = Hub(HubName());
        await hub.CreateIfNotExistsAsync();
        using var stop = new CancellationTokenSource();
        var worker = hub.RunAsync(RunOrchestrator, RunActivity, stop.Token);

        var id = await hub.StartAsync("Forever", null, "forever-1");
        var duplicate = await Assert.ThrowsAsync<InvalidOperationException>(() => hub.StartAsync("Forever", null, "forever-1"));
        var purgeRunning = await Assert.ThrowsAsync<InvalidOperationException>(() => hub.PurgeAsync(id));
        await hub.TerminateAsync(id, "operator stopped it");
        var state = await hub.WaitForCompletionAsync(id, TimeSpan.FromSeconds(30));
        var listed = new List<OrchestrationState>();
        await foreach (var s in hub.ListAsync([OrchestrationStatus.Terminated]))
        {
            listed.Add(s);
        }

        var purged = await hub.PurgeAsync(id);
        var gone = await hub.GetAsync(id);
        stop.Cancel();
        await worker;

        Assert.Contains("already exists", duplicate.Message);
        Assert.Contains("terminate it before purging", purgeRunning.Message);
        Assert.Equal(OrchestrationStatus.Terminated, state.OrchestrationStatus);
        Assert.Equal("\"operator stopped it\"", state.Output);
        Assert.Contains(listed, s => s.InstanceId == id);
        Assert.True(purged);
        Assert.Null(gone);
    }
}
