namespace FinServerless.Datasets.Ingest;

/// <summary>Where a run's outputs go: blob storage (the platform) or a local folder (CLI, benchmarks). Paths use '/'.</summary>
public interface IRunOutput
{
    /// <summary>Writes a whole object; with <paramref name="createOnly"/>, returns false (and writes nothing) when it exists.</summary>
    Task<bool> WriteAsync(string path, ReadOnlyMemory<byte> content, string contentType, bool createOnly, CancellationToken cancellationToken);

    /// <summary>Reads an object, or null when absent.</summary>
    Task<byte[]?> ReadAsync(string path, CancellationToken cancellationToken);

    /// <summary>Deletes every object under a prefix.</summary>
    Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken);

    /// <summary>Describes a path for messages (for example a blob URL without credentials).</summary>
    string Describe(string path);
}
