using System.Security.Cryptography;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Storage;
using Azure.Storage.Blobs;
using FinServerless.Azurite;
using FinServerless.Connections;
using FinServerless.Testing;

namespace FinServerless.Connections.Tests;

/// <summary>Connections that go through a <see cref="FaultProxy"/>.</summary>
internal static class Through
{
    public static StorageConnection Proxy(AzuriteFixture azurite, FaultProxy? blobs, FaultProxy? queues = null, int maxRetries = 10, TimeSpan? networkTimeout = null) =>
        StorageConnection.FromConnectionString(
            $"DefaultEndpointsProtocol=http;AccountName={AzuriteServer.AccountName};AccountKey={AzuriteServer.AccountKey};" +
            $"BlobEndpoint={(blobs is null ? azurite.Server.BlobEndpoint : blobs.Through(azurite.Server.BlobEndpoint))};" +
            $"QueueEndpoint={(queues is null ? azurite.Server.QueueEndpoint : queues.Through(azurite.Server.QueueEndpoint))};") with
        {
            MaxRetries = maxRetries,
            NetworkTimeout = networkTimeout ?? TimeSpan.FromSeconds(10),
        };

    /// <summary>
    /// A raw SDK client through <paramref name="proxy"/> whose first try has every response cut after one byte (the
    /// service did the work, the client never hears) and whose retries pass untouched: a lost answer, on demand.
    /// </summary>
    public static BlobClient LostFirstAnswer(AzuriteFixture azurite, FaultProxy proxy, string container, string blob)
    {
        var options = new BlobClientOptions(BlobClientOptions.ServiceVersion.V2026_06_06);
        options.Retry.MaxRetries = 3;
        options.Retry.Delay = TimeSpan.FromMilliseconds(50);
        options.AddPolicy(new FirstTryCut(proxy), HttpPipelinePosition.PerRetry);
        return new BlobServiceClient(proxy.Through(azurite.Server.BlobEndpoint), new StorageSharedKeyCredential(AzuriteServer.AccountName, AzuriteServer.AccountKey), options)
            .GetBlobContainerClient(container).GetBlobClient(blob);
    }

    private sealed class FirstTryCut(FaultProxy proxy) : HttpPipelineSynchronousPolicy
    {
        private int _tries;

        public override void OnSendingRequest(HttpMessage message) =>
            proxy.Plan = Interlocked.Increment(ref _tries) == 1 ? new FaultPlan { CutAfterBytesMin = 1, CutAfterBytesMax = 1 } : FaultPlan.None;
    }
}

/// <summary>A write-only stream that hashes and counts what it is given.</summary>
internal sealed class HashingStream : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

    public long Written { get; private set; }

    public byte[] Sha256 => _hash.GetCurrentHash();

    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => Written;

    public override long Position { get => Written; set => throw new NotSupportedException(); }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        _hash.AppendData(buffer);
        Written += buffer.Length;
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Write(buffer.AsSpan(offset, count));
        return Task.CompletedTask;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _hash.Dispose();
        }

        base.Dispose(disposing);
    }
}
