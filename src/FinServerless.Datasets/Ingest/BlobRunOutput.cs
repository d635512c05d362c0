using Azure;
using FinServerless.Storage.Blobs;

namespace FinServerless.Datasets.Ingest;

/// <summary>Run outputs in blob storage: the first path segment is the container.</summary>
public sealed class BlobRunOutput(BlobServiceClient service) : IRunOutput
{
    /// <inheritdoc/>
    public async Task<bool> WriteAsync(string path, ReadOnlyMemory<byte> content, string contentType, bool createOnly, CancellationToken cancellationToken)
    {
        var blob = Blob(path);
        await blob.Container.CreateIfNotExistsAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await blob.UploadAsync(new BinaryData(content), new BlobUploadOptions
            {
                ContentType = contentType,
                Conditions = createOnly ? BlobRequestConditions.CreateOnly : null,
            }, cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RequestFailedException ex) when (createOnly && ex.Status is 409 or 412)
        {
            return false;
        }
    }

    /// <inheritdoc/>
    public async Task<byte[]?> ReadAsync(string path, CancellationToken cancellationToken)
    {
        try
        {
            return (await Blob(path).DownloadContentAsync(cancellationToken).ConfigureAwait(false)).ToArray();
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public async Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken)
    {
        var (container, name) = Split(prefix);
        var client = service.GetBlobContainerClient(container);
        if (!await client.ExistsAsync(cancellationToken).ConfigureAwait(false))
        {
            return;
        }

        await foreach (var item in client.GetBlobsAsync(name, cancellationToken: cancellationToken).ConfigureAwait(false))
        {
            await client.GetBlobClient(item.Name).DeleteIfExistsAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public string Describe(string path) => Blob(path).Uri.ToString();

    private BlobClient Blob(string path)
    {
        var (container, name) = Split(path);
        return service.GetBlobContainerClient(container).GetBlobClient(name);
    }

    private static (string Container, string Name) Split(string path)
    {
        var slash = path.IndexOf('/');
        return slash < 0 ? (path, string.Empty) : (path[..slash], path[(slash + 1)..]);
    }
}
