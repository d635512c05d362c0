using Microsoft.Extensions.Logging;

namespace FinServerless.IsolatedHost;

/// <summary>
/// A logger provider that hands each log line (level, category, message, and an exception's type and message) to a
/// callback: for a log file, or for tests that assert what is and is not logged.
/// </summary>
public sealed class LineLoggerProvider(Action<string> write, LogLevel minimum = LogLevel.Information) : ILoggerProvider
{
    /// <inheritdoc/>
    public ILogger CreateLogger(string categoryName) => new Logger(categoryName, write, minimum);

    /// <inheritdoc/>
    public void Dispose()
    {
    }

    private sealed class Logger(string category, Action<string> write, LogLevel minimum) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                var failure = exception is null ? string.Empty : $" | {exception.Message} | {exception.GetBaseException().GetType().Name}: {exception.GetBaseException().Message}";
                write($"{logLevel} {category}: {formatter(state, exception)}{failure}");
            }
        }
    }
}
