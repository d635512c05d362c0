using System.Text.Json;
using FinServerless.Durable.Orchestration;

namespace FinServerless.Functions.Handler;

/// <summary>Activity invocations: the input JSON from the trigger binding, the result as ReturnValue.</summary>
public static class Activities
{
    /// <summary>Runs an activity with a typed input and output.</summary>
    public static async Task<InvocationResponse> Run<TIn, TOut>(InvocationRequest request, Func<TIn, Task<TOut>> body)
    {
        var json = request.Json("input") ?? throw new ArgumentException("The activity received no input.");
        var input = JsonSerializer.Deserialize<TIn>(json, Envelope.Options) ?? throw new ArgumentException("The activity's input is null.");
        return new InvocationResponse { ReturnValue = await body(input).ConfigureAwait(false) };
    }
}

/// <summary>Orchestrator invocations: base64 protobuf OrchestratorRequest in, base64 OrchestratorResponse out (as a JSON string).</summary>
public static class Orchestrations
{
    /// <summary>Replays <paramref name="orchestrator"/> over the request's history.</summary>
    public static InvocationResponse Run(InvocationRequest request, Orchestrator orchestrator)
    {
        var context = request.Text("context") ?? throw new ArgumentException("The orchestration trigger carried no context.");
        return new InvocationResponse { ReturnValue = OrchestrationExecutor.ExecuteBase64(context, orchestrator) };
    }
}
