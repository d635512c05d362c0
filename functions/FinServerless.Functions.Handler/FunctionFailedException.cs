namespace FinServerless.Functions.Handler;

/// <summary>A function that cannot complete; the handler answers 500 so the host retries or records the failure.</summary>
public sealed class FunctionFailedException(string message, Exception? inner = null) : Exception(message, inner);
