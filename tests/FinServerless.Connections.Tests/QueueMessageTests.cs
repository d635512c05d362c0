using System.Text;
using Azure.Storage.Queues;
using FinServerless.Connections;
using FinServerless.Testing;

namespace FinServerless.Connections.Tests;

/// <summary>Queue messages travel base64, as the Functions queue trigger and output binding expect.</summary>
public sealed class QueueMessageTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    private const string Payload = "{\"blob\":\"inbox-acme/loans/2026-11-22.csv\",\"note\":\"héllo <partner> & co ✓\"}";

    private async Task<(QueueClient Ours, QueueClient Raw)> NewQueueAsync()
    {
        var connection = StorageConnection.FromConnectionString(azurite.ConnectionString);
        var name = AzuriteFixture.UniqueName("q");
        var ours = connection.CreateQueueServiceClient().GetQueueClient(name);
        var raw = connection.CreateQueueServiceClient(QueueMessageEncoding.None).GetQueueClient(name);
        await ours.CreateIfNotExistsAsync();
        return (ours, raw);
    }

    [Fact]
    public async Task What_we_send_is_the_base64_of_the_UTF8_text_on_the_wire_and_reads_back_as_the_text()
    {
        var (ours, raw) = await NewQueueAsync();

        await ours.SendMessageAsync(Payload);
        var onTheWire = Assert.Single((await raw.PeekMessagesAsync()).Value).MessageText;
        var received = Assert.Single((await ours.ReceiveMessagesAsync(32, TimeSpan.FromSeconds(30))).Value);

        Assert.Equal(Convert.ToBase64String(Encoding.UTF8.GetBytes(Payload)), onTheWire);
        Assert.Equal(Payload, received.MessageText);
        Assert.Equal(Payload, received.Body.ToString());
        Assert.Equal(1, received.DequeueCount);
    }

    [Fact]
    public async Task A_base64_message_from_another_producer_such_as_a_Functions_output_binding_decodes()
    {
        var (ours, raw) = await NewQueueAsync();

        await raw.SendMessageAsync(Convert.ToBase64String(Encoding.UTF8.GetBytes(Payload)));
        var received = Assert.Single((await ours.ReceiveMessagesAsync()).Value);
        await ours.DeleteMessageAsync(received.MessageId, received.PopReceipt);

        Assert.Equal(Payload, received.MessageText);
        Assert.Equal(0, (await ours.GetPropertiesAsync()).Value.ApproximateMessagesCount);
    }

    [Fact]
    public async Task Binary_bodies_round_trip_byte_for_byte()
    {
        var (ours, _) = await NewQueueAsync();
        var bytes = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();

        await ours.SendMessageAsync(new BinaryData(bytes));
        var received = Assert.Single((await ours.ReceiveMessagesAsync()).Value);

        Assert.Equal(bytes, received.Body.ToArray());
    }
}
