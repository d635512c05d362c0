namespace FinServerless.Storage.Queues;

/// <summary>How message text travels: base64 (what the Functions queue trigger expects by default) or as is.</summary>
public enum QueueMessageEncoding
{
    /// <summary>Message text is UTF-8 then base64 encoded on the wire.</summary>
    Base64,

    /// <summary>Message text is sent as is (XML-escaped).</summary>
    None,
}

/// <summary>A received message: its text, and what is needed to delete or extend it.</summary>
public sealed record QueueMessage(
    string MessageId,
    string PopReceipt,
    string MessageText,
    long DequeueCount,
    DateTimeOffset InsertedOn,
    DateTimeOffset ExpiresOn,
    DateTimeOffset NextVisibleOn);

/// <summary>A peeked message (not locked, no pop receipt).</summary>
public sealed record PeekedMessage(string MessageId, string MessageText, long DequeueCount, DateTimeOffset InsertedOn, DateTimeOffset ExpiresOn);

/// <summary>What the service returns for a sent message.</summary>
public sealed record SendReceipt(string MessageId, string PopReceipt, DateTimeOffset InsertedOn, DateTimeOffset ExpiresOn, DateTimeOffset NextVisibleOn);

/// <summary>What the service returns for an updated message: the new pop receipt and when it is visible again.</summary>
public sealed record UpdateReceipt(string PopReceipt, DateTimeOffset NextVisibleOn);
