using System.Security.Cryptography;
using System.Text.Json;
using FinServerless.Contracts;

namespace FinServerless.Datasets.Ingest;

/// <summary>Keeps and reads a dataset's <see cref="LatestRunPointer"/>.</summary>
public static class LatestRun
{
    /// <summary>Moves the dataset's pointer to <paramref name="run"/> unless it already names a run as new or newer (a redelivered event changes nothing).</summary>
    public static async Task AdvanceAsync(IRunOutput output, RunManifest run, string manifestPath, CancellationToken cancellationToken)
    {
        var bytes = await output.ReadAsync(manifestPath, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"The curated manifest {output.Describe(manifestPath)} is not there to point to.");
        var pointer = new LatestRunPointer(run.RunId, manifestPath, Convert.ToHexStringLower(SHA256.HashData(bytes)), run.CreatedAt);
        var (partner, dataset, _) = run.Names;
        await output.UpdateAsync(
            StorageLayout.LatestRun(partner, dataset),
            current => current is not null && TryParse(current) is { } existing && existing.IsAtLeastAsNewAs(pointer) ? null : JsonSerializer.SerializeToUtf8Bytes(pointer, RunManifest.JsonOptions),
            "application/json",
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The dataset's pointer, or null when there is none (no run yet, or runs from before pointers were written) or it is not readable.</summary>
    public static async Task<LatestRunPointer?> ReadAsync(IRunOutput output, StorageName partner, StorageName dataset, CancellationToken cancellationToken) =>
        await output.ReadAsync(StorageLayout.LatestRun(partner, dataset), cancellationToken).ConfigureAwait(false) is { } bytes ? TryParse(bytes) : null;

    private static LatestRunPointer? TryParse(byte[] bytes)
    {
        try
        {
            return JsonSerializer.Deserialize<LatestRunPointer>(bytes, RunManifest.JsonOptions);
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
