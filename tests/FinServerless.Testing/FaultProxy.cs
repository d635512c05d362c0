using System.Net;
using System.Net.Sockets;
using System.Text;

namespace FinServerless.Testing;

/// <summary>
/// A TCP proxy in front of a real server that injects faults per connection: 503 replies, dropped
/// connections, delays, and responses cut mid-body. The plan can be changed while it runs.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    private static readonly byte[] Busy = Encoding.ASCII.GetBytes(
        "HTTP/1.1 503 Service Unavailable\r\nx-ms-error-code: ServerBusy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");

    private readonly TcpListener _listener;
    private readonly IPEndPoint _target;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _accepting;
    private readonly Random _random;
    private int _replied503;
    private int _dropped;
    private int _delayed;
    private int _cut;
    private int _connections;

    /// <summary>Starts a proxy on a free loopback port forwarding to <paramref name="targetPort"/>.</summary>
    public FaultProxy(int targetPort, FaultPlan plan, int seed = 12345)
    {
        _target = new IPEndPoint(IPAddress.Loopback, targetPort);
        Plan = plan;
        _random = new Random(seed);
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _accepting = AcceptLoopAsync();
    }

    /// <summary>The current plan; new connections follow it.</summary>
    public FaultPlan Plan { get; set; }

    /// <summary>The proxy's port.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Counts of what was injected so far.</summary>
    public (int Connections, int Replied503, int Dropped, int Delayed, int Cut) Injected =>
        (_connections, _replied503, _dropped, _delayed, _cut);

    /// <summary>Rewrites an endpoint (for example Azurite's blob endpoint) to go through this proxy.</summary>
    public Uri Through(Uri endpoint) => new UriBuilder(endpoint) { Port = Port }.Uri;

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        try
        {
            await _accepting.ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
        }

        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            var client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            Interlocked.Increment(ref _connections);
            _ = Task.Run(() => HandleAsync(client));
        }
    }

    private async Task HandleAsync(TcpClient client)
    {
        double roll;
        long cutAfter;
        FaultPlan plan;
        lock (_random)
        {
            plan = Plan;
            roll = _random.NextDouble();
            cutAfter = plan.CutAfterBytesMax is { } max ? _random.NextInt64(plan.CutAfterBytesMin, max + 1) : long.MaxValue;
        }

        using (client)
        {
            try
            {
                var downstream = client.GetStream();
                if (roll < plan.Reply503)
                {
                    Interlocked.Increment(ref _replied503);
                    await WaitForRequestAsync(downstream).ConfigureAwait(false);
                    await downstream.WriteAsync(Busy, _stop.Token).ConfigureAwait(false);
                    return;
                }

                if (roll < plan.Reply503 + plan.Drop)
                {
                    Interlocked.Increment(ref _dropped);
                    await WaitForRequestAsync(downstream).ConfigureAwait(false);
                    client.Client.LingerState = new LingerOption(true, 0); // reset, not a clean close
                    return;
                }

                if (roll < plan.Reply503 + plan.Drop + plan.Delay)
                {
                    Interlocked.Increment(ref _delayed);
                    await Task.Delay(plan.DelayBy, _stop.Token).ConfigureAwait(false);
                }

                using var server = new TcpClient();
                await server.ConnectAsync(_target, _stop.Token).ConfigureAwait(false);
                var upstream = server.GetStream();
                using var connection = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                var up = PumpAsync(downstream, upstream, long.MaxValue, connection.Token);
                var down = PumpAsync(upstream, downstream, cutAfter, connection.Token);
                var first = await Task.WhenAny(up, down).ConfigureAwait(false);
                if (first == down && down.Result)
                {
                    Interlocked.Increment(ref _cut);
                    client.Client.LingerState = new LingerOption(true, 0);
                }

                connection.Cancel();
            }
            catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }

    private async Task WaitForRequestAsync(NetworkStream stream)
    {
        var buffer = new byte[1];
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        await stream.ReadAsync(buffer, timeout.Token).ConfigureAwait(false);
    }

    /// <summary>Copies until EOF; returns true when it stopped because the byte budget ran out.</summary>
    private static async Task<bool> PumpAsync(Stream from, Stream to, long budget, CancellationToken cancellationToken)
    {
        var buffer = new byte[81920];
        try
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return false;
                }

                if (read >= budget)
                {
                    await to.WriteAsync(buffer.AsMemory(0, (int)budget), cancellationToken).ConfigureAwait(false);
                    return true;
                }

                budget -= read;
                await to.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException)
        {
            return false;
        }
    }
}
