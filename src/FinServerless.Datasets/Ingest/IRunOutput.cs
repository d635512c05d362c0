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

    /// <summary>
    /// Replaces an object only from the content it had: <paramref name="update"/> gets the current bytes (null when
    /// absent) and returns the new ones, or null to leave it; a concurrent change makes it run again on the newer
    /// content. Returns whether it wrote. This default is for single-writer stores; the platform's stores override it.
    /// </summary>
    async Task<bool> UpdateAsync(string path, Func<byte[]?, byte[]?> update, string contentType, CancellationToken cancellationToken)
    {
        if (update(await ReadAsync(path, cancellationToken).ConfigureAwait(false)) is not { } next)
        {
            return false;
        }

        await WriteAsync(path, next, contentType, createOnly: false, cancellationToken).ConfigureAwait(false);
        return true;
    }

    /// <summary>Describes a path for messages (for example a blob URL without credentials).</summary>
    string Describe(string path);
}
