using System.Text.Json;
using FinServerless.Durable.Backend;
using FinServerless.Durable.Orchestration;
using FinServerless.Durable.Protocol;
using FinServerless.Connections;

// Usage: FinServerless.Durable.TestWorker <connection string> <hub name> <activity delay ms>
// Runs until killed; prints "ready" once polling, and one line per finished activity.
var connection = StorageConnection.FromConnectionString(args[0]);
var delay = int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture);
var hub = new StorageTaskHub(connection, new TaskHubOptions
{
    HubName = args[1],
    VisibilityTimeout = TimeSpan.FromSeconds(4),
    MaxPollInterval = TimeSpan.FromMilliseconds(100),
    Log = line =>
    {
        if (!line.Contains("activity", StringComparison.Ordinal))
        {
            Console.WriteLine(line);
        }
    },
});

var orchestrators = new Dictionary<string, Orchestrator>
{
    ["FanOut"] = async ctx => (await Task.WhenAll(Enumerable.Range(1, ctx.GetInput<int>()).Select(i => ctx.CallActivityAsync<long>("Square", i)))).Sum(),
};

await hub.CreateIfNotExistsAsync();
Console.WriteLine("ready");
await hub.RunAsync(
    (name, request, _) => Task.FromResult(OrchestrationExecutor.Execute(request, orchestrators[name])),
    async (name, instanceId, input, ct) =>
    {
        await Task.Delay(delay, ct);
        var x = JsonSerializer.Deserialize<long>(input!);
        Console.WriteLine($"done {x}");
        return ActivityResult.Success(JsonSerializer.Serialize(x * x));
    },
    CancellationToken.None);
