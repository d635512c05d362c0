using System.Globalization;
using Azure.Core;

namespace FinServerless.Storage.Blobs;

/// <summary>A lease on a blob, for single-writer work: acquire, renew, change, release, break.</summary>
public sealed class BlobLeaseClient
{
    private readonly BlobClient _blob;

    internal BlobLeaseClient(BlobClient blob, string? leaseId)
    {
        _blob = blob;
        LeaseId = leaseId ?? Guid.NewGuid().ToString();
    }

    /// <summary>The lease id this client proposes or holds.</summary>
    public string LeaseId { get; private set; }

    /// <summary>Acquires the lease for 15–60 s, or forever with <see cref="Timeout.InfiniteTimeSpan"/>.</summary>
    public async Task AcquireAsync(TimeSpan duration, CancellationToken cancellationToken = default)
    {
        var seconds = duration == Timeout.InfiniteTimeSpan ? -1 : (int)duration.TotalSeconds;
        if (seconds != -1 && seconds is < 15 or > 60)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), $"Lease duration {duration} must be 15 to 60 seconds, or infinite.");
        }

        await SendAsync("acquire", "Acquire lease", 201, cancellationToken, ("x-ms-lease-duration", seconds.ToString(CultureInfo.InvariantCulture)), ("x-ms-proposed-lease-id", LeaseId)).ConfigureAwait(false);
    }

    /// <summary>Renews the lease before it expires.</summary>
    public Task RenewAsync(CancellationToken cancellationToken = default) =>
        SendAsync("renew", "Renew lease", 200, cancellationToken, ("x-ms-lease-id", LeaseId));

    /// <summary>Releases the lease so another writer may acquire it.</summary>
    public Task ReleaseAsync(CancellationToken cancellationToken = default) =>
        SendAsync("release", "Release lease", 200, cancellationToken, ("x-ms-lease-id", LeaseId));

    /// <summary>Changes the lease id.</summary>
    public async Task ChangeAsync(string proposedLeaseId, CancellationToken cancellationToken = default)
    {
        await SendAsync("change", "Change lease", 200, cancellationToken, ("x-ms-lease-id", LeaseId), ("x-ms-proposed-lease-id", proposedLeaseId)).ConfigureAwait(false);
        LeaseId = proposedLeaseId;
    }

    /// <summary>Breaks the lease whoever holds it (after <paramref name="breakPeriod"/>, default immediately).</summary>
    public Task BreakAsync(TimeSpan? breakPeriod = null, CancellationToken cancellationToken = default) =>
        SendAsync("break", "Break lease", 202, cancellationToken, ("x-ms-lease-break-period", ((int)(breakPeriod ?? TimeSpan.Zero).TotalSeconds).ToString(CultureInfo.InvariantCulture)));

    private async Task SendAsync(string action, string operation, int expected, CancellationToken cancellationToken, params (string Name, string Value)[] headers)
    {
        using var message = _blob.Pipeline.CreateMessage(RequestMethod.Put, _blob.EscapedPath, ("comp", "lease"));
        message.Request.Headers.SetValue("x-ms-lease-action", action);
        foreach (var (name, value) in headers)
        {
            message.Request.Headers.SetValue(name, value);
        }

        await _blob.Pipeline.SendAsync(message, operation, _blob.DisplayName, cancellationToken, expected).ConfigureAwait(false);
    }
}
