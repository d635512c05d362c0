namespace FinServerless.XGBoost;

/// <summary>An error reported by XGBoost, with the call that failed and XGBoost's message (first line).</summary>
public sealed class XGBoostException(string call, string nativeMessage)
    : Exception($"XGBoost {call} failed: {FirstLine(nativeMessage)}")
{
    /// <summary>XGBoost's full message, including its stack trace.</summary>
    public string NativeMessage { get; } = nativeMessage;

    private static string FirstLine(string message)
    {
        // XGBoost appends a multi-line native stack trace; the first lines carry the reason.
        var stack = message.IndexOf("Stack trace:", StringComparison.Ordinal);
        return (stack > 0 ? message[..stack] : message).Trim();
    }
}
