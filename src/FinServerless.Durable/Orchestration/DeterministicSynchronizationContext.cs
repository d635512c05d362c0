namespace FinServerless.Durable.Orchestration;

/// <summary>
/// Runs every continuation of an orchestrator on the executor's thread, in the order they were posted, when the
/// executor drains it after each history event. No thread pool, no timing: replay is deterministic.
/// </summary>
internal sealed class DeterministicSynchronizationContext : SynchronizationContext
{
    private readonly Queue<(SendOrPostCallback Callback, object? State)> _queue = new();

    public override void Post(SendOrPostCallback d, object? state) => _queue.Enqueue((d, state));

    public override void Send(SendOrPostCallback d, object? state) => d(state);

    public override SynchronizationContext CreateCopy() => this;

    /// <summary>Runs queued continuations (and those they queue) until none is left.</summary>
    public void Drain()
    {
        while (_queue.TryDequeue(out var item))
        {
            item.Callback(item.State);
        }
    }
}
