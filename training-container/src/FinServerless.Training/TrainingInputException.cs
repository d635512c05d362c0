namespace FinServerless.Training;

/// <summary>The training data or settings cannot be used (empty, one class, bad target, missing feature, bad parameter, too little data): exit code 2.</summary>
public class TrainingInputException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The data is below one of the minimums of <see cref="DataMinimums"/>; <see cref="Minimum"/> says which, and the counts.</summary>
public sealed class InsufficientDataException(MinimumNotMet minimum) : TrainingInputException(minimum.Reason)
{
    /// <summary>The minimum that was not met.</summary>
    public MinimumNotMet Minimum { get; } = minimum;
}
