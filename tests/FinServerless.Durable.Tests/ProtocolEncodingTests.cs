using FinServerless.Durable.Protocol;
using Google.Protobuf;

namespace FinServerless.Durable.Tests;

/// <summary>Hand-encoded protobuf bytes (tags from the protocol's field numbers) parse to the right fields and re-encode byte for byte.</summary>
public sealed class ProtocolEncodingTests
{
    private static byte[] Hex(string hex) => Convert.FromHexString(hex.Replace(" ", string.Empty));

    [Fact]
    public void An_OrchestratorRequest_with_an_ExecutionStarted_event_round_trips()
    {
        // 1: instanceId "i1"; 4: newEvents[ {1: eventId 5, 3: executionStarted {1: name "Orch", 3: input {1: "42"}}} ]
        var bytes = Hex("0A 02 69 31 22 10 08 05 1A 0C 0A 04 4F 72 63 68 1A 04 0A 02 34 32");

        var request = OrchestratorRequest.Parser.ParseFrom(bytes);

        Assert.Equal("i1", request.InstanceId);
        var e = Assert.Single(request.NewEvents);
        Assert.Equal(5, e.EventId);
        Assert.Equal("Orch", e.ExecutionStarted.Name);
        Assert.Equal("42", e.ExecutionStarted.Input);
        Assert.Equal(bytes, request.ToByteArray());
    }

    [Fact]
    public void An_OrchestratorResponse_with_a_scheduled_task_and_custom_status_round_trips()
    {
        // 1: instanceId "i1"; 2: actions[ {2: scheduleTask {1: name "A"}} ]; 3: customStatus {1: "s"}
        var bytes = Hex("0A 02 69 31 12 05 12 03 0A 01 41 1A 03 0A 01 73");
        var built = new OrchestratorResponse { InstanceId = "i1", CustomStatus = "s" };
        built.Actions.Add(new OrchestratorAction { Id = 0, ScheduleTask = new ScheduleTaskAction { Name = "A" } });

        Assert.Equal(bytes, built.ToByteArray());
        Assert.Equal(built, OrchestratorResponse.Parser.ParseFrom(bytes));
    }

    [Fact]
    public void A_CompleteOrchestration_action_uses_field_6_and_the_status_enum()
    {
        // 1: id 1; 6: completeOrchestration {1: status COMPLETED (1); 2: result {1: "7"}}
        var bytes = Hex("08 01 32 07 08 01 12 03 0A 01 37");
        var action = new OrchestratorAction { Id = 1, CompleteOrchestration = new CompleteOrchestrationAction { OrchestrationStatus = OrchestrationStatus.Completed, Result = "7" } };

        Assert.Equal(bytes, action.ToByteArray());
    }

    [Fact]
    public void A_TimerFired_event_is_field_13_with_fireAt_and_timerId()
    {
        // 13: timerFired {1: fireAt {1: seconds 1}; 2: timerId 3}
        var bytes = Hex("6A 06 0A 02 08 01 10 03");

        var e = HistoryEvent.Parser.ParseFrom(bytes);

        Assert.Equal(HistoryEvent.EventTypeOneofCase.TimerFired, e.EventTypeCase);
        Assert.Equal(3, e.TimerFired.TimerId);
        Assert.Equal(1, e.TimerFired.FireAt.Seconds);
        Assert.Equal(bytes, e.ToByteArray());
    }

    [Fact]
    public void Failure_details_nest_and_keep_their_field_numbers()
    {
        // 8: taskFailed {1: taskScheduledId 2; 2: failureDetails {1: "E"; 2: "m"; 5: true}}
        var bytes = Hex("42 0C 08 02 12 08 0A 01 45 12 01 6D 28 01");

        var e = HistoryEvent.Parser.ParseFrom(bytes);

        Assert.Equal(2, e.TaskFailed.TaskScheduledId);
        Assert.Equal("E", e.TaskFailed.FailureDetails.ErrorType);
        Assert.True(e.TaskFailed.FailureDetails.IsNonRetriable);
        Assert.Equal(bytes, e.ToByteArray());
    }
}
