using FinServerless.Contracts;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Profiling;
using Azure;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;

namespace FinServerless.Datasets.Ingest;

/// <summary>
/// The ingest entry point the function app calls for a BlobCreated event: for an <see cref="InboxFile"/> (its
/// partner, dataset and file already validated at the edge) loads the contract from
/// <c>contracts/{partner}/{dataset}.json</c>, streams the blob (pinned to its ETag) and runs
/// <see cref="IngestEngine"/> under a run id derived from the blob's name, ETag and the contract's hash, so the
/// same event delivered twice yields one run. Every path is built from the validated names, so a blob can only
/// ever be read from its own partner's inbox and land under that partner's curated and quarantine prefixes.
/// </summary>
public sealed class BlobIngestor(BlobServiceClient service)
{
    /// <summary>Ingests one inbox blob.</summary>
    public async Task<IngestOutcome> IngestAsync(InboxFile file, IngestOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(file);
        var output = new BlobRunOutput(service);
        var contractPath = StorageLayout.Contract(file.Partner, file.Dataset);
        var contractBytes = await output.ReadAsync(contractPath, cancellationToken).ConfigureAwait(false)
            ?? throw new ContractException(contractPath, $"no contract exists for partner '{file.Partner}' and dataset '{file.Dataset}'; upload one before the partner sends files.");
        var contract = DatasetContract.Parse(contractBytes, contractPath);
        if (contract.Partner != file.Partner.Value || contract.Dataset != file.Dataset.Value)
        {
            throw new ContractException(contractPath, $"it declares partner '{contract.Partner}' and dataset '{contract.Dataset}' but is stored for '{file.Partner}/{file.Dataset}'.");
        }

        var reference = await LoadReferenceAsync(output, file, cancellationToken).ConfigureAwait(false);
        options = (options ?? new IngestOptions()) with { ContractPath = contractPath, Reference = options?.Reference ?? reference };
        var blob = service.GetBlobContainerClient(file.Container).GetBlobClient(file.BlobName);
        // Pinned to the version the run id names: a blob replaced while it is read fails (412) and is retried.
        var etag = (await blob.GetPropertiesAsync(cancellationToken: cancellationToken).ConfigureAwait(false)).Value.ETag;
        await using var input = await blob.OpenReadAsync(
            new BlobOpenReadOptions(allowModifications: false) { Conditions = new BlobRequestConditions { IfMatch = etag }, BufferSize = 4 * 1024 * 1024 },
            cancellationToken).ConfigureAwait(false);
        var runId = IngestEngine.RunIdFor($"{file.Path}@{etag}", contract);
        return await IngestEngine.RunAsync(input, file.Path, contract, runId, output, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The drift reference for a dataset: <c>contracts/{partner}/{dataset}.reference.json</c>, a profile, when present.</summary>
    private static async Task<(DatasetProfile, string)?> LoadReferenceAsync(BlobRunOutput output, InboxFile file, CancellationToken cancellationToken)
    {
        var path = StorageLayout.Reference(file.Partner, file.Dataset);
        var bytes = await output.ReadAsync(path, cancellationToken).ConfigureAwait(false);
        return bytes is null ? null : (System.Text.Json.JsonSerializer.Deserialize<DatasetProfile>(bytes, RunManifest.JsonOptions)!, path);
    }
}
