using Azure;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;

namespace FinServerless.Durable.Backend;

/// <summary>
/// Keeps received queue messages hidden while they are worked on: every third of the visibility timeout each
/// held message's visibility is extended, so an activity that runs for hours is not handed to a second worker,
/// while a crashed host's messages still reappear one timeout after it died. A message is taken out (with its
/// latest pop receipt) when it is deleted or released.
/// </summary>
internal sealed class MessageLeases : IAsyncDisposable
{
    private readonly QueueClient _queue;
    private readonly TimeSpan _visibility;
    private readonly Action<string>? _log;
    private readonly Dictionary<string, string> _receipts;
    private readonly SemaphoreSlim _sweep = new(1, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    public MessageLeases(QueueClient queue, IEnumerable<QueueMessage> messages, TimeSpan visibility, Action<string>? log)
    {
        _queue = queue;
        _visibility = visibility;
        _log = log;
        _receipts = messages.ToDictionary(m => m.MessageId, m => m.PopReceipt, StringComparer.Ordinal);
        _loop = RenewAsync(_stop.Token);
    }

    /// <summary>
    /// Stops holding <paramref name="messages"/>: deletes them (null), or makes them visible again after a delay. One
    /// whose hold was lost is left alone: another worker has it now and will drop what is already applied.
    /// </summary>
    public Task ReleaseAsync(IEnumerable<QueueMessage> messages, TimeSpan? visibleAgainIn) =>
        Parallel.ForEachAsync(messages, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (m, _) =>
        {
            if (await TakeAsync(m).ConfigureAwait(false) is not { } receipt)
            {
                return;
            }

            try
            {
                if (visibleAgainIn is { } delay)
                {
                    await _queue.UpdateMessageAsync(m.MessageId, receipt, visibilityTimeout: delay, cancellationToken: CancellationToken.None).ConfigureAwait(false);
                }
                else
                {
                    await _queue.DeleteMessageAsync(m.MessageId, receipt, CancellationToken.None).ConfigureAwait(false);
                }
            }
            catch (RequestFailedException ex) when (ex.Status is 404 or 400)
            {
                // Its visibility ran out between the take and the call; the worker holding it now drops it as a duplicate.
            }
        });

    private async Task<string?> TakeAsync(QueueMessage message)
    {
        await _sweep.WaitAsync().ConfigureAwait(false);
        try
        {
            return _receipts.Remove(message.MessageId, out var receipt) ? receipt : null;
        }
        finally
        {
            _sweep.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        _stop.Dispose();
        _sweep.Dispose();
    }

    private async Task RenewAsync(CancellationToken stop)
    {
        var period = _visibility / 3;
        while (true)
        {
            await Task.Delay(period, stop).ConfigureAwait(false);
            await _sweep.WaitAsync(stop).ConfigureAwait(false);
            try
            {
                var held = _receipts.ToList();
                var renewed = await Task.WhenAll(held.Select(async kv =>
                {
                    try
                    {
                        UpdateReceipt receipt = await _queue.UpdateMessageAsync(kv.Key, kv.Value, visibilityTimeout: _visibility, cancellationToken: CancellationToken.None).ConfigureAwait(false);
                        return (kv.Key, Receipt: (string?)receipt.PopReceipt);
                    }
                    catch (RequestFailedException ex) when (ex.Status is 404 or 400)
                    {
                        _log?.Invoke($"durable: lost hold of message {kv.Key} on {_queue.Name} ({ex.Status}); another worker may run it again");
                        return (kv.Key, Receipt: null);
                    }
                    catch (RequestFailedException ex)
                    {
                        _log?.Invoke($"durable: could not extend message {kv.Key} on {_queue.Name} ({ex.Status} {ex.ErrorCode}); will try again");
                        return (kv.Key, Receipt: kv.Value);
                    }
                })).ConfigureAwait(false);
                foreach (var (id, receipt) in renewed)
                {
                    if (receipt is null)
                    {
                        _receipts.Remove(id);
                    }
                    else
                    {
                        _receipts[id] = receipt;
                    }
                }
            }
            finally
            {
                _sweep.Release();
            }
        }
    }
}
