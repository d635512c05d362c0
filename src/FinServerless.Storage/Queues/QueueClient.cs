using System.Globalization;
using System.Security;
using System.Xml.Linq;
using Azure.Core;

namespace FinServerless.Storage.Queues;

/// <summary>One storage queue: create, send, receive, update, delete, peek.</summary>
public sealed class QueueClient
{
    private readonly QueueServiceClient _service;

    internal QueueClient(QueueServiceClient service, string name, QueueMessageEncoding encoding)
    {
        ContainerNames.Validate(name);
        _service = service;
        Name = name;
        Encoding = encoding;
    }

    /// <summary>The queue name.</summary>
    public string Name { get; }

    /// <summary>How message text is encoded on the wire.</summary>
    public QueueMessageEncoding Encoding { get; }

    private StoragePipeline Pipeline => _service.Pipeline;

    /// <summary>A client for the same queue with another message encoding.</summary>
    public QueueClient WithEncoding(QueueMessageEncoding encoding) => new(_service, Name, encoding);

    /// <summary>Creates the queue unless it exists; returns whether it was created.</summary>
    public async Task<bool> CreateIfNotExistsAsync(CancellationToken cancellationToken = default)
    {
        using var message = Pipeline.CreateMessage(RequestMethod.Put, Name);
        var response = await Pipeline.SendAsync(message, "Create queue", Name, cancellationToken, 201, 204).ConfigureAwait(false);
        return response.Status == 201;
    }

    /// <summary>Deletes the queue if it exists.</summary>
    public async Task<bool> DeleteIfExistsAsync(CancellationToken cancellationToken = default)
    {
        using var message = Pipeline.CreateMessage(RequestMethod.Delete, Name);
        var response = await Pipeline.SendAsync(message, "Delete queue", Name, cancellationToken, 204, 404).ConfigureAwait(false);
        return response.Status == 204;
    }

    /// <summary>The approximate number of messages in the queue.</summary>
    public async Task<int> GetApproximateMessageCountAsync(CancellationToken cancellationToken = default)
    {
        using var message = Pipeline.CreateMessage(RequestMethod.Get, Name, ("comp", "metadata"));
        var response = await Pipeline.SendAsync(message, "Get queue properties", Name, cancellationToken, 200).ConfigureAwait(false);
        return response.Headers.TryGetValue("x-ms-approximate-messages-count", out var count) ? int.Parse(count, CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>Sends a message, invisible for <paramref name="visibilityDelay"/>, expiring after <paramref name="timeToLive"/> (-1 s: never).</summary>
    public async Task<SendReceipt> SendMessageAsync(string text, TimeSpan? visibilityDelay = null, TimeSpan? timeToLive = null, CancellationToken cancellationToken = default)
    {
        using var message = Pipeline.CreateMessage(
            RequestMethod.Post,
            $"{Name}/messages",
            ("visibilitytimeout", Seconds(visibilityDelay)),
            ("messagettl", Seconds(timeToLive)));
        message.Request.Content = RequestContent.Create(System.Text.Encoding.UTF8.GetBytes(Envelope(text)));
        message.Request.Headers.SetValue("Content-Type", "application/xml");
        var response = await Pipeline.SendAsync(message, "Send message", Name, cancellationToken, 201).ConfigureAwait(false);
        var m = XDocument.Load(response.ContentStream!).Root!.Element("QueueMessage")!;
        return new SendReceipt(m.Element("MessageId")!.Value, m.Element("PopReceipt")!.Value, Date(m, "InsertionTime"), Date(m, "ExpirationTime"), Date(m, "TimeNextVisible"));
    }

    /// <summary>Receives up to <paramref name="maxMessages"/> (1–32), hiding them for <paramref name="visibilityTimeout"/>.</summary>
    public async Task<IReadOnlyList<QueueMessage>> ReceiveMessagesAsync(int maxMessages = 1, TimeSpan? visibilityTimeout = null, CancellationToken cancellationToken = default)
    {
        if (maxMessages is < 1 or > 32)
        {
            throw new ArgumentOutOfRangeException(nameof(maxMessages), $"maxMessages is {maxMessages}; the service returns 1 to 32 messages per call.");
        }

        using var message = Pipeline.CreateMessage(
            RequestMethod.Get,
            $"{Name}/messages",
            ("numofmessages", maxMessages.ToString(CultureInfo.InvariantCulture)),
            ("visibilitytimeout", Seconds(visibilityTimeout)));
        var response = await Pipeline.SendAsync(message, "Receive messages", Name, cancellationToken, 200).ConfigureAwait(false);
        return XDocument.Load(response.ContentStream!).Root!.Elements("QueueMessage")
            .Select(m => new QueueMessage(
                m.Element("MessageId")!.Value,
                m.Element("PopReceipt")!.Value,
                Decode(m.Element("MessageText")?.Value ?? string.Empty),
                long.Parse(m.Element("DequeueCount")!.Value, CultureInfo.InvariantCulture),
                Date(m, "InsertionTime"),
                Date(m, "ExpirationTime"),
                Date(m, "TimeNextVisible")))
            .ToList();
    }

    /// <summary>Reads up to 32 messages without hiding them.</summary>
    public async Task<IReadOnlyList<PeekedMessage>> PeekMessagesAsync(int maxMessages = 1, CancellationToken cancellationToken = default)
    {
        using var message = Pipeline.CreateMessage(
            RequestMethod.Get,
            $"{Name}/messages",
            ("peekonly", "true"),
            ("numofmessages", Math.Clamp(maxMessages, 1, 32).ToString(CultureInfo.InvariantCulture)));
        var response = await Pipeline.SendAsync(message, "Peek messages", Name, cancellationToken, 200).ConfigureAwait(false);
        return XDocument.Load(response.ContentStream!).Root!.Elements("QueueMessage")
            .Select(m => new PeekedMessage(
                m.Element("MessageId")!.Value,
                Decode(m.Element("MessageText")?.Value ?? string.Empty),
                long.Parse(m.Element("DequeueCount")!.Value, CultureInfo.InvariantCulture),
                Date(m, "InsertionTime"),
                Date(m, "ExpirationTime")))
            .ToList();
    }

    /// <summary>Deletes a received message (after it was processed).</summary>
    public async Task DeleteMessageAsync(string messageId, string popReceipt, CancellationToken cancellationToken = default)
    {
        using var message = Pipeline.CreateMessage(RequestMethod.Delete, $"{Name}/messages/{Uri.EscapeDataString(messageId)}", ("popreceipt", popReceipt));
        await Pipeline.SendAsync(message, "Delete message", Name, cancellationToken, 204).ConfigureAwait(false);
    }

    /// <summary>Extends (or shortens) a received message's invisibility, optionally replacing its text.</summary>
    public async Task<UpdateReceipt> UpdateMessageAsync(string messageId, string popReceipt, TimeSpan visibilityTimeout, string? text = null, CancellationToken cancellationToken = default)
    {
        using var message = Pipeline.CreateMessage(
            RequestMethod.Put,
            $"{Name}/messages/{Uri.EscapeDataString(messageId)}",
            ("popreceipt", popReceipt),
            ("visibilitytimeout", Seconds(visibilityTimeout)));
        if (text is not null)
        {
            message.Request.Content = RequestContent.Create(System.Text.Encoding.UTF8.GetBytes(Envelope(text)));
            message.Request.Headers.SetValue("Content-Type", "application/xml");
        }

        var response = await Pipeline.SendAsync(message, "Update message", Name, cancellationToken, 204).ConfigureAwait(false);
        response.Headers.TryGetValue("x-ms-popreceipt", out var receipt);
        response.Headers.TryGetValue("x-ms-time-next-visible", out var next);
        return new UpdateReceipt(receipt ?? string.Empty, next is null ? DateTimeOffset.MinValue : DateTimeOffset.Parse(next, CultureInfo.InvariantCulture));
    }

    private string Envelope(string text)
    {
        var body = Encoding == QueueMessageEncoding.Base64
            ? Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(text))
            : SecurityElement.Escape(text);
        return $"<QueueMessage><MessageText>{body}</MessageText></QueueMessage>";
    }

    private string Decode(string wire)
    {
        if (Encoding == QueueMessageEncoding.None)
        {
            return wire;
        }

        try
        {
            return System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(wire));
        }
        catch (FormatException ex)
        {
            throw new FormatException($"A message in queue '{Name}' is not base64; it was sent with another encoding. Read it with QueueMessageEncoding.None.", ex);
        }
    }

    private static string? Seconds(TimeSpan? value) =>
        value is null ? null : ((long)value.Value.TotalSeconds).ToString(CultureInfo.InvariantCulture);

    private static DateTimeOffset Date(XElement message, string name) =>
        message.Element(name) is { } e ? DateTimeOffset.Parse(e.Value, CultureInfo.InvariantCulture) : DateTimeOffset.MinValue;
}
