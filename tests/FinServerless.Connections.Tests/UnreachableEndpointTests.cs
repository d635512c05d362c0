using System.Net;
using System.Net.Sockets;
using Azure;
using FinServerless.Connections;

namespace FinServerless.Connections.Tests;

/// <summary>A closed endpoint fails within the configured retries, and the failure says what and where.</summary>
public sealed class UnreachableEndpointTests
{
    private static int ClosedLoopbackPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    private static StorageConnection Closed(int port) => StorageConnection.FromConnectionString(
        $"DefaultEndpointsProtocol=http;AccountName=fsclosed;AccountKey={Convert.ToBase64String(new byte[32])};" +
        $"BlobEndpoint=http://127.0.0.1:{port}/fsclosed;QueueEndpoint=http://127.0.0.1:{port}/fsclosed;") with
    {
        MaxRetries = 2,
        NetworkTimeout = TimeSpan.FromSeconds(2),
    };

    [Fact(Timeout = 60_000)]
    public async Task A_blob_upload_to_a_closed_port_fails_after_the_retries_naming_operation_blob_account_and_endpoint()
    {
        var port = ClosedLoopbackPort();
        var blob = Closed(port).CreateBlobServiceClient().GetBlobContainerClient("scores").GetBlobClient("run-1/part-0.csv");

        var raw = await Assert.ThrowsAnyAsync<Exception>(() => blob.UploadAsync(BinaryData.FromString("x")));
        var error = StorageFailure.Describe(raw, "upload", blob.Uri);

        Assert.IsType<AggregateException>(raw); // the SDK's "Retry failed after 3 tries", naming neither account nor operation
        Assert.Equal(0, error.Status);
        Assert.Equal("ServiceUnreachable", error.ErrorCode);
        Assert.Equal("fsclosed", error.Account);
        Assert.Contains("upload on 'fsclosed/scores/run-1/part-0.csv'", error.Message);
        Assert.Contains("storage account 'fsclosed'", error.Message);
        Assert.Contains($"http://127.0.0.1:{port}", error.Message);
        Assert.Contains("after 3 tries", error.Message);
        Assert.Same(raw, error.InnerException);
    }

    [Fact(Timeout = 60_000)]
    public async Task A_queue_send_to_a_closed_port_wrapped_by_RunAsync_is_described()
    {
        var port = ClosedLoopbackPort();
        var queue = Closed(port).CreateQueueServiceClient().GetQueueClient("score-requests");

        var error = await Assert.ThrowsAsync<StorageOperationException>(() =>
            StorageFailure.RunAsync("send message", queue.Uri, ct => queue.SendMessageAsync("{}", ct)));

        Assert.Contains("send message on 'fsclosed/score-requests'", error.Message);
        Assert.Contains($"127.0.0.1:{port}", error.Message);
    }

    [Fact]
    public async Task The_callers_own_cancellation_is_not_wrapped()
    {
        var blob = Closed(ClosedLoopbackPort()).CreateBlobServiceClient().GetBlobContainerClient("c").GetBlobClient("b");
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => StorageFailure.RunAsync("download", blob.Uri, ct => blob.DownloadContentAsync(ct), cancelled.Token));
    }

    [Fact]
    public void A_service_answer_is_described_with_status_code_and_hint_and_a_SAS_never_appears()
    {
        var resource = new Uri("https://fsprod.blob.core.windows.net/inbox-acme/loans.csv?sv=2025-11-05&sp=cw&sig=SECRETSIG");
        var answered = new RequestFailedException(412, "Status: 412 sig=SECRETSIG", "ConditionNotMet", null);

        var error = StorageFailure.Describe(answered, "replace", resource);

        Assert.Equal(412, error.Status);
        Assert.Equal("fsprod", error.Account);
        Assert.Contains("replace on 'inbox-acme/loans.csv' in storage account 'fsprod' at https://fsprod.blob.core.windows.net failed with HTTP 412 ConditionNotMet", error.Message);
        Assert.Contains("re-read", error.Message);
        Assert.DoesNotContain("SECRETSIG", error.Message);
        Assert.DoesNotContain("SECRETSIG", error.Resource.ToString());
    }
}
