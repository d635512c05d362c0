using Azure;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Profiling;
using FinServerless.Storage.Blobs;

namespace FinServerless.Datasets.Ingest;

/// <summary>
/// The ingest entry point the function app calls for a BlobCreated event: resolves partner and dataset from
/// <c>inbox-{partner}/{dataset}/{file}</c>, loads the contract from <c>contracts/{partner}/{dataset}.json</c>,
/// streams the blob (pinned to its ETag) and runs <see cref="IngestEngine"/> under a run id derived from the
/// blob's name and ETag, so the same event delivered twice yields one run.
/// </summary>
public sealed class BlobIngestor(BlobServiceClient service)
{
    /// <summary>Ingests one inbox blob.</summary>
    public async Task<IngestOutcome> IngestAsync(string container, string blobName, IngestOptions? options = null, CancellationToken cancellationToken = default)
    {
        if (!container.StartsWith("inbox-", StringComparison.Ordinal))
        {
            throw new ArgumentException($"'{container}/{blobName}' is not in a partner inbox (containers named inbox-{{partner}}).", nameof(container));
        }

        var partner = container["inbox-".Length..];
        var slash = blobName.IndexOf('/');
        if (slash <= 0)
        {
            throw new ArgumentException($"'{container}/{blobName}': files go under a dataset folder, inbox-{partner}/{{dataset}}/{{file}}.", nameof(blobName));
        }

        var dataset = blobName[..slash];
        var contractPath = $"{RunPaths.ContractsContainer}/{partner}/{dataset}.json";
        var contractBlob = service.GetBlobContainerClient(RunPaths.ContractsContainer).GetBlobClient($"{partner}/{dataset}.json");
        DatasetContract contract;
        try
        {
            contract = DatasetContract.Parse((await contractBlob.DownloadContentAsync(cancellationToken).ConfigureAwait(false)).ToMemory().Span, contractPath);
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            throw new ContractException(contractPath, $"no contract exists for partner '{partner}' and dataset '{dataset}'; upload one before the partner sends files.", ex);
        }

        if (contract.Partner != partner || contract.Dataset != dataset)
        {
            throw new ContractException(contractPath, $"it declares partner '{contract.Partner}' and dataset '{contract.Dataset}' but is stored for '{partner}/{dataset}'.");
        }

        var output = new BlobRunOutput(service);
        var reference = await LoadReferenceAsync(output, partner, dataset, cancellationToken).ConfigureAwait(false);
        options = (options ?? new IngestOptions()) with { ContractPath = contractPath, Reference = options?.Reference ?? reference };
        var blob = service.GetBlobContainerClient(container).GetBlobClient(blobName);
        await using var input = await blob.OpenReadAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
        var runId = IngestEngine.RunIdFor($"{container}/{blobName}@{input.Properties.ETag}");
        return await IngestEngine.RunAsync(input, $"{container}/{blobName}", contract, runId, output, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The drift reference for a dataset: <c>contracts/{partner}/{dataset}.reference.json</c>, a profile, when present.</summary>
    private static async Task<(DatasetProfile, string)?> LoadReferenceAsync(BlobRunOutput output, string partner, string dataset, CancellationToken cancellationToken)
    {
        var path = $"{RunPaths.ContractsContainer}/{partner}/{dataset}.reference.json";
        var bytes = await output.ReadAsync(path, cancellationToken).ConfigureAwait(false);
        return bytes is null ? null : (System.Text.Json.JsonSerializer.Deserialize<DatasetProfile>(bytes, RunManifest.JsonOptions)!, path);
    }
}
