using System.Collections.Concurrent;
using FinServerless.IsolatedHost.Rpc;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using RpcException = Grpc.Core.RpcException;

namespace FinServerless.IsolatedHost;

/// <summary>
/// One worker's FunctionRpc event stream, host side: requests go out with a correlation key, responses complete them.
/// When the stream ends (the worker exited or broke the connection) every request still waiting fails with
/// <see cref="WorkerUnavailableException"/>.
/// </summary>
internal sealed class WorkerChannel
{
    private readonly SemaphoreSlim _writeLock = new(1, 1);
    private readonly ConcurrentDictionary<string, TaskCompletionSource<StreamingMessage>> _pending = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly IServerStreamWriter<StreamingMessage> _writer;
    private readonly ILogger _log;

    public WorkerChannel(string workerId, IServerStreamWriter<StreamingMessage> writer, ILogger log)
    {
        WorkerId = workerId;
        _writer = writer;
        _log = log;
    }

    /// <summary>The id the host gave the worker on its command line.</summary>
    public string WorkerId { get; }

    /// <summary>Completes when the stream has ended.</summary>
    public Task Closed => _closed.Task;

    /// <summary>The number of invocations waiting for their response.</summary>
    public int InFlight => _pending.Keys.Count(k => k.StartsWith("inv:", StringComparison.Ordinal));

    /// <summary>Sends a request and waits for the response with the same correlation key.</summary>
    public async Task<StreamingMessage> RequestAsync(string key, StreamingMessage message, CancellationToken cancellationToken = default)
    {
        var reply = new TaskCompletionSource<StreamingMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        if (_closed.Task.IsCompleted || !_pending.TryAdd(key, reply))
        {
            throw _closed.Task.IsCompleted ? Unavailable() : new InvalidOperationException($"A request '{key}' is already waiting for the worker.");
        }

        try
        {
            await SendAsync(message, cancellationToken).ConfigureAwait(false);
            return await reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _pending.TryRemove(key, out _);
        }
    }

    /// <summary>Sends a message that has no response (cancel, terminate).</summary>
    public async Task SendAsync(StreamingMessage message, CancellationToken cancellationToken = default)
    {
        await _writeLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await _writer.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is InvalidOperationException or IOException or RpcException)
        {
            throw Unavailable(ex);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Reads the worker's messages until the stream ends.</summary>
    public async Task ReadAsync(IAsyncStreamReader<StreamingMessage> reader, Action<RpcLog> onLog, CancellationToken cancellationToken)
    {
        try
        {
            while (await reader.MoveNext(cancellationToken).ConfigureAwait(false))
            {
                var message = reader.Current;
                switch (message.ContentCase)
                {
                    case StreamingMessage.ContentOneofCase.RpcLog:
                        onLog(message.RpcLog);
                        break;
                    case StreamingMessage.ContentOneofCase.WorkerInitResponse:
                        Complete("init", message);
                        break;
                    case StreamingMessage.ContentOneofCase.FunctionMetadataResponse:
                        Complete("metadata", message);
                        break;
                    case StreamingMessage.ContentOneofCase.FunctionLoadResponse:
                        Complete("load:" + message.FunctionLoadResponse.FunctionId, message);
                        break;
                    case StreamingMessage.ContentOneofCase.InvocationResponse:
                        Complete("inv:" + message.InvocationResponse.InvocationId, message);
                        break;
                    case StreamingMessage.ContentOneofCase.WorkerStatusResponse:
                        Complete("status", message);
                        break;
                    default:
                        _log.LogDebug("worker {WorkerId} sent {Message}, which this host does not use", WorkerId, message.ContentCase);
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or RpcException or OperationCanceledException or InvalidOperationException)
        {
            _log.LogDebug("worker {WorkerId} stream ended: {Reason}", WorkerId, ex.Message);
        }
        finally
        {
            _closed.TrySetResult();
            foreach (var key in _pending.Keys)
            {
                if (_pending.TryRemove(key, out var waiting))
                {
                    waiting.TrySetException(Unavailable());
                }
            }
        }
    }

    private void Complete(string key, StreamingMessage message)
    {
        if (_pending.TryGetValue(key, out var waiting))
        {
            waiting.TrySetResult(message);
        }
        else
        {
            _log.LogDebug("worker {WorkerId} answered '{Key}', which nothing waits for (cancelled or timed out)", WorkerId, key);
        }
    }

    private WorkerUnavailableException Unavailable(Exception? inner = null) =>
        new($"The worker process (id {WorkerId}) is gone: its FunctionRpc stream ended before it answered.", inner);
}

/// <summary>The worker process exited or its stream broke: the request was not (or not fully) served.</summary>
public sealed class WorkerUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The FunctionRpc service the workers dial (the worker is the gRPC client): each stream starts with StartStream
/// naming the worker id the host handed out, and is served by the <see cref="WorkerChannel"/> waiting for that id.
/// </summary>
internal sealed class FunctionRpcService(RpcEndpoint endpoint) : FunctionRpc.FunctionRpcBase
{
    /// <inheritdoc/>
    public override async Task EventStream(IAsyncStreamReader<StreamingMessage> requestStream, IServerStreamWriter<StreamingMessage> responseStream, ServerCallContext context)
    {
        if (!await requestStream.MoveNext(context.CancellationToken).ConfigureAwait(false)
            || requestStream.Current.ContentCase != StreamingMessage.ContentOneofCase.StartStream)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, "The first message of an event stream must be StartStream."));
        }

        var workerId = requestStream.Current.StartStream.WorkerId;
        if (!endpoint.TryAccept(workerId, responseStream, out var channel, out var onLog))
        {
            throw new RpcException(new Status(StatusCode.PermissionDenied, "Unknown worker id: this host did not start that worker."));
        }

        await channel.ReadAsync(requestStream, onLog, context.CancellationToken).ConfigureAwait(false);
    }
}

/// <summary>Hands each expected worker id its channel when the worker connects.</summary>
internal sealed class RpcEndpoint(ILogger log)
{
    private readonly ConcurrentDictionary<string, (TaskCompletionSource<WorkerChannel> Connected, Action<RpcLog> OnLog)> _expected = new();

    /// <summary>Registers a worker id the host is about to start; the task completes when that worker connects.</summary>
    public Task<WorkerChannel> Expect(string workerId, Action<RpcLog> onLog)
    {
        var connected = new TaskCompletionSource<WorkerChannel>(TaskCreationOptions.RunContinuationsAsynchronously);
        _expected[workerId] = (connected, onLog);
        return connected.Task;
    }

    /// <summary>Forgets a worker id (its process did not connect).</summary>
    public void Forget(string workerId) => _expected.TryRemove(workerId, out _);

    public bool TryAccept(string workerId, IServerStreamWriter<StreamingMessage> writer, out WorkerChannel channel, out Action<RpcLog> onLog)
    {
        if (_expected.TryRemove(workerId, out var waiting))
        {
            channel = new WorkerChannel(workerId, writer, log);
            onLog = waiting.OnLog;
            waiting.Connected.TrySetResult(channel);
            return true;
        }

        channel = null!;
        onLog = null!;
        return false;
    }
}
