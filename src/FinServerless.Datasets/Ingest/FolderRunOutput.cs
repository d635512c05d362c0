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
    public Task<Stream?> OpenReadAsync(string path, CancellationToken cancellationToken)
    {
        var full = Full(path);
        return Task.FromResult<Stream?>(File.Exists(full) ? new FileStream(full, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16) : null);
    }

    /// <inheritdoc/>
    /// <remarks>Written to a temporary file beside the target and renamed over it on commit (atomic on one file system).</remarks>
    public Task<ObjectWriter> OpenWriteAsync(string path, string contentType, CancellationToken cancellationToken)
    {
        var full = Full(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        return Task.FromResult<ObjectWriter>(new FileObjectWriter(full));
    }

    private sealed class FileObjectWriter(string full) : ObjectWriter
    {
        private readonly string _temporary = $"{full}.{Guid.NewGuid():N}.tmp";
        private FileStream? _file;

        protected override async Task AppendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
        {
            _file ??= new FileStream(_temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await _file.WriteAsync(bytes, cancellationToken).ConfigureAwait(false);
        }

        protected override async Task FinishAsync(CancellationToken cancellationToken)
        {
            _file ??= new FileStream(_temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
            await _file.FlushAsync(cancellationToken).ConfigureAwait(false);
            await _file.DisposeAsync().ConfigureAwait(false);
            _file = null;
            File.Move(_temporary, full, overwrite: true);
        }

        public override async ValueTask DisposeAsync()
        {
            if (_file is not null)
            {
                await _file.DisposeAsync().ConfigureAwait(false);
                _file = null;
            }

            if (!Committed)
            {
                File.Delete(_temporary);
            }

            await base.DisposeAsync().ConfigureAwait(false);
        }
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
