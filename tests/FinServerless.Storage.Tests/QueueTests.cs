using Azure;
using FinServerless.Storage.Queues;
using FinServerless.Testing;

namespace FinServerless.Storage.Tests;

public sealed class QueueTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private async Task<QueueClient> NewQueueAsync(QueueMessageEncoding encoding = QueueMessageEncoding.Base64)
    {
        var queue = azurite.Queues.GetQueueClient(AzuriteFixture.UniqueName("q")).WithEncoding(encoding);
        Assert.True(await queue.CreateIfNotExistsAsync());
        Assert.False(await queue.CreateIfNotExistsAsync());
        return queue;
    }

    [Fact]
    public async Task Send_receive_hides_the_message_and_delete_removes_it()
    {
        var queue = await NewQueueAsync();
        await queue.SendMessageAsync("{\"blob\":\"inbox-demo/a.csv\"}");

        var received = Assert.Single(await queue.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(30)));
        var again = await queue.ReceiveMessagesAsync(32);
        await queue.DeleteMessageAsync(received.MessageId, received.PopReceipt);

        Assert.Equal("{\"blob\":\"inbox-demo/a.csv\"}", received.MessageText);
        Assert.Equal(1, received.DequeueCount);
        Assert.Empty(again);
        Assert.Equal(0, await queue.GetApproximateMessageCountAsync());
    }

    [Fact]
    public async Task Receive_returns_up_to_32_at_once()
    {
        var queue = await NewQueueAsync();
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => queue.SendMessageAsync($"m{i}")));

        var batch = await queue.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(60));

        Assert.Equal(32, batch.Count);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => queue.ReceiveMessagesAsync(33));
    }

    [Fact]
    public async Task A_visibility_delay_hides_a_new_message_until_it_passes()
    {
        var queue = await NewQueueAsync();
        var receipt = await queue.SendMessageAsync("later", visibilityDelay: TimeSpan.FromSeconds(2), timeToLive: TimeSpan.FromMinutes(5));

        var now = await queue.ReceiveMessagesAsync();
        await Task.Delay(TimeSpan.FromSeconds(3));
        var later = await queue.ReceiveMessagesAsync();

        Assert.Empty(now);
        Assert.Equal("later", Assert.Single(later).MessageText);
        Assert.InRange((receipt.ExpiresOn - receipt.InsertedOn).TotalMinutes, 4.9, 5.1);
    }

    [Fact]
    public async Task Update_extends_the_lease_on_a_message_and_can_replace_its_text()
    {
        var queue = await NewQueueAsync();
        await queue.SendMessageAsync("work");
        var first = Assert.Single(await queue.ReceiveMessagesAsync(1, TimeSpan.FromSeconds(1)));

        var update = await queue.UpdateMessageAsync(first.MessageId, first.PopReceipt, TimeSpan.FromSeconds(30), "work, 50% done");
        await Task.Delay(TimeSpan.FromSeconds(2));
        var stillHidden = await queue.ReceiveMessagesAsync();
        var stale = await Assert.ThrowsAsync<RequestFailedException>(() => queue.DeleteMessageAsync(first.MessageId, first.PopReceipt));
        await queue.UpdateMessageAsync(first.MessageId, update.PopReceipt, TimeSpan.Zero);
        var back = Assert.Single(await queue.ReceiveMessagesAsync());

        Assert.Empty(stillHidden);
        Assert.Contains(stale.Status, new[] { 400, 404 });
        Assert.Equal("work, 50% done", back.MessageText);
        Assert.Equal(2, back.DequeueCount);
    }

    [Fact]
    public async Task Base64_is_what_travels_by_default_and_plain_text_is_switchable()
    {
        var queue = await NewQueueAsync();
        await queue.SendMessageAsync("héllo <partner> & co");
        var raw = Assert.Single(await queue.WithEncoding(QueueMessageEncoding.None).PeekMessagesAsync());
        var plain = queue.WithEncoding(QueueMessageEncoding.None);
        await plain.SendMessageAsync("<not base64> & plain");

        var both = await plain.PeekMessagesAsync(2);
        var readAsBase64 = await Assert.ThrowsAsync<FormatException>(() => queue.PeekMessagesAsync(2));

        Assert.Equal(Convert.ToBase64String("héllo <partner> & co"u8.ToArray()), raw.MessageText);
        Assert.Equal("<not base64> & plain", both[1].MessageText);
        Assert.Contains("QueueMessageEncoding.None", readAsBase64.Message);
    }

    [Fact]
    public async Task A_missing_queue_is_a_clear_404()
    {
        var queue = azurite.Queues.GetQueueClient("never-created");

        var error = await Assert.ThrowsAsync<RequestFailedException>(() => queue.SendMessageAsync("x"));

        Assert.Equal(404, error.Status);
        Assert.Equal("QueueNotFound", error.ErrorCode);
        Assert.Contains("never-created", error.Message);
    }
}
