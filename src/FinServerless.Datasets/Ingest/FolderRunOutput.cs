namespace FinServerless.Datasets.Ingest;

/// <summary>Run outputs in a local folder, same layout as the blob containers (for the CLI and benchmarks).</summary>
public sealed class FolderRunOutput(string root) : IRunOutput
{
    /// <summary>The folder.</summary>
    public string Root { get; } = Path.GetFullPath(root);

    /// <inheritdoc/>
    public async Task<bool> WriteAsync(string path, ReadOnlyMemory<byte> content, string contentType, bool createOnly, CancellationToken cancellationToken)
    {
        var full = Full(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        try
        {
            await using var file = new FileStream(full, createOnly ? FileMode.CreateNew : FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await file.WriteAsync(content, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (IOException) when (createOnly && File.Exists(full))
        {
            return false;
        }
    }

    private static readonly SemaphoreSlim UpdateGate = new(1, 1);

    /// <inheritdoc/>
    /// <remarks>Serialized within this process and replaced by an atomic rename (a local folder has one writer process: the CLI, a benchmark, a test).</remarks>
    public async Task<bool> UpdateAsync(string path, Func<byte[]?, byte[]?> update, string contentType, CancellationToken cancellationToken)
    {
        await UpdateGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (update(await ReadAsync(path, cancellationToken).ConfigureAwait(false)) is not { } next)
            {
                return false;
            }

            var full = Full(path);
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            var temporary = $"{full}.{Guid.NewGuid():N}.tmp";
            await File.WriteAllBytesAsync(temporary, next, cancellationToken).ConfigureAwait(false);
            File.Move(temporary, full, overwrite: true);
            return true;
        }
        finally
        {
            UpdateGate.Release();
        }
    }

    /// <inheritdoc/>
    public async Task<byte[]?> ReadAsync(string path, CancellationToken cancellationToken)
    {
        var full = Full(path);
        return File.Exists(full) ? await File.ReadAllBytesAsync(full, cancellationToken).ConfigureAwait(false) : null;
    }

    /// <inheritdoc/>
    public Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken)
    {
        var full = Full(prefix);
        if (Directory.Exists(full))
        {
            Directory.Delete(full, recursive: true);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    public string Describe(string path) => Full(path);

    private string Full(string path) => Path.Combine(Root, path.Replace('/', Path.DirectorySeparatorChar));
}
