using FinServerless.Durable.Orchestration;
using FinServerless.Functions.Handler;

// FanOut(n): n Square activities at once, then their sum; the answer is known (n(n+1)(2n+1)/6), so a run that
// loses or double-counts a result shows. Square takes a few milliseconds, like a small real activity.
// Sleep (GET /api/sleep?ms=N): an HTTP invocation that takes N ms, or ends early when the host cancels it.
await HandlerHost.RunAsync(args, new Dictionary<string, Func<InvocationRequest, CancellationToken, Task<InvocationResponse>>>(StringComparer.OrdinalIgnoreCase)
{
    ["FanOut"] = (r, _) => Task.FromResult(Orchestrations.Run(r, FanOutAsync)),
    ["Square"] = (r, ct) => Activities.Run<long, long>(r, async i =>
    {
        await Task.Delay(5, ct);
        return i * i;
    }),
    ["Sleep"] = async (r, ct) =>
    {
        var ms = int.Parse(r.Http().Query.GetValueOrDefault("ms", "1000"), System.Globalization.CultureInfo.InvariantCulture);
        await Task.Delay(ms, ct);
        return new InvocationResponse().Http(200, new { slept = ms });
    },
});

static async Task<object?> FanOutAsync(TaskOrchestrationContext context)
{
    var n = context.GetInput<int>();
    context.SetCustomStatus(new { scheduled = n });
    var squares = await Task.WhenAll(Enumerable.Range(1, n).Select(i => context.CallActivityAsync<long>("Square", (long)i)));
    return new { count = squares.Length, sum = squares.Sum() };
}
