namespace FinServerless.Datasets.Validation;

/// <summary>The whole file is rejected (missing column, unreadable, too many bad rows…), with the rule and a message naming the file.</summary>
public sealed class FileRejectedException(string rule, string message) : Exception(message)
{
    /// <summary>Short name of the file-level rule, for reports.</summary>
    public string Rule { get; } = rule;
}
