namespace FinServerless.Durable.Orchestration;

/// <summary>How an activity or sub-orchestration is retried when it fails.</summary>
public sealed record RetryPolicy
{
    /// <summary>Total attempts, the first included.</summary>
    public int MaxAttempts { get; init; } = 3;

    /// <summary>Wait before the second attempt.</summary>
    public TimeSpan FirstRetryInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Each wait is the previous one times this.</summary>
    public double BackoffCoefficient { get; init; } = 2;

    /// <summary>The longest wait between attempts.</summary>
    public TimeSpan MaxRetryInterval { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Which failures to retry (all by default; non-retriable ones never are).</summary>
    public Func<TaskFailureDetailsInfo, bool>? Handle { get; init; }

    /// <summary>The wait before attempt <paramref name="attempt"/> (2 for the first retry).</summary>
    public TimeSpan DelayBefore(int attempt)
    {
        var delay = FirstRetryInterval.TotalMilliseconds * Math.Pow(BackoffCoefficient, attempt - 2);
        return TimeSpan.FromMilliseconds(Math.Min(delay, MaxRetryInterval.TotalMilliseconds));
    }
}

/// <summary>Options of a scheduled task.</summary>
public sealed record TaskOptions(RetryPolicy? Retry = null)
{
    /// <summary>Retry with the given policy.</summary>
    public static TaskOptions WithRetry(RetryPolicy policy) => new(policy);
}

/// <summary>Why a task failed, as the protocol reports it.</summary>
public sealed record TaskFailureDetailsInfo(string ErrorType, string ErrorMessage, string? StackTrace, bool IsNonRetriable, TaskFailureDetailsInfo? Inner)
{
    internal static TaskFailureDetailsInfo From(Protocol.TaskFailureDetails? details) => details is null
        ? new TaskFailureDetailsInfo("Unknown", "no failure details were given", null, false, null)
        : new TaskFailureDetailsInfo(details.ErrorType, details.ErrorMessage, details.StackTrace, details.IsNonRetriable, details.InnerFailure is null ? null : From(details.InnerFailure));

    internal Protocol.TaskFailureDetails ToProtocol()
    {
        var p = new Protocol.TaskFailureDetails { ErrorType = ErrorType, ErrorMessage = ErrorMessage, IsNonRetriable = IsNonRetriable };
        if (StackTrace is not null)
        {
            p.StackTrace = StackTrace;
        }

        if (Inner is not null)
        {
            p.InnerFailure = Inner.ToProtocol();
        }

        return p;
    }
}

/// <summary>An activity or sub-orchestration failed; <see cref="FailureDetails"/> says how.</summary>
public sealed class TaskFailedException(string taskName, int taskId, TaskFailureDetailsInfo details)
    : Exception($"Task '{taskName}' (#{taskId}) failed: {details.ErrorType}: {details.ErrorMessage}")
{
    /// <summary>The task's name.</summary>
    public string TaskName { get; } = taskName;

    /// <summary>The task's id in the orchestration.</summary>
    public int TaskId { get; } = taskId;

    /// <summary>The failure as reported.</summary>
    public TaskFailureDetailsInfo FailureDetails { get; } = details;
}

/// <summary>History that contradicts the orchestrator code: the code changed while instances were in flight.</summary>
public sealed class NonDeterministicOrchestrationException(string message) : Exception(message);
