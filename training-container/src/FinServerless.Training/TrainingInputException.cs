namespace FinServerless.Training;

/// <summary>The training data or settings cannot be used (empty, one class, bad target, missing feature, bad parameter): exit code 2.</summary>
public sealed class TrainingInputException(string message, Exception? inner = null) : Exception(message, inner);
