using System.Collections.Concurrent;
using Microsoft.ML.OnnxRuntime;

namespace FinServerless.Scoring;

/// <summary>
/// Sessions lent to one batch at a time: a batch waits (first come, first served) until one is free. The same
/// session may be in the pool more than once (a session on the shared thread pool runs batches side by side).
/// Readers reserve a place before they read a batch: three places per session (one running, two read ahead), so
/// memory stays bounded however fast parts are read.
/// </summary>
internal sealed class SessionPool : IDisposable
{
    private readonly ConcurrentQueue<InferenceSession> _free;
    private readonly SemaphoreSlim _available;
    private readonly SemaphoreSlim _places;
    private readonly IReadOnlyList<InferenceSession> _all;
    private readonly bool _owned;

    /// <summary>A pool of <paramref name="sessions"/>; disposes them with itself when <paramref name="owned"/>.</summary>
    public SessionPool(IReadOnlyList<InferenceSession> sessions, bool owned)
    {
        _all = sessions;
        _owned = owned;
        _free = new ConcurrentQueue<InferenceSession>(sessions);
        _available = new SemaphoreSlim(sessions.Count, sessions.Count);
        _places = new SemaphoreSlim(3 * sessions.Count, 3 * sessions.Count);
    }

    /// <summary>Waits for a place for one more batch (read, waiting or running); <see cref="Unreserve"/> frees it.</summary>
    public Task ReserveAsync(CancellationToken cancellationToken) => _places.WaitAsync(cancellationToken);

    /// <summary>Frees a place taken by <see cref="ReserveAsync"/>.</summary>
    public void Unreserve() => _places.Release();

    /// <summary>Waits for a free session.</summary>
    public async Task<InferenceSession> RentAsync(CancellationToken cancellationToken)
    {
        await _available.WaitAsync(cancellationToken).ConfigureAwait(false);
        _free.TryDequeue(out var session);
        return session!;
    }

    /// <summary>Gives a session back.</summary>
    public void Return(InferenceSession session)
    {
        _free.Enqueue(session);
        _available.Release();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _available.Dispose();
        _places.Dispose();
        if (_owned)
        {
            foreach (var session in _all.Distinct())
            {
                session.Dispose();
            }
        }
    }
}
