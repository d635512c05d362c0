namespace FinServerless.Datasets.Contracts;

/// <summary>A contract that cannot be used, with the contract's name and what to fix.</summary>
public sealed class ContractException(string source, string problem, Exception? inner = null)
    : Exception($"Dataset contract '{source}' is invalid: {problem}", inner)
{
    /// <summary>Where the contract came from (path or blob).</summary>
    public string ContractSource { get; } = source;
}
