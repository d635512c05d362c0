using Azure;
using Azure.Storage.Blobs;
using Microsoft.Azure.WebJobs.Extensions.Timers;
using Microsoft.Azure.WebJobs.Host.Executors;
using Newtonsoft.Json;

namespace FinServerless.IsolatedHost;

/// <summary>
/// The timer trigger's schedule monitor on Azure.Storage.Blobs. Microsoft.Azure.WebJobs.Extensions 3.0.6's own
/// StorageScheduleMonitor is built against WebJobs.Host.Storage 3.x and fails to load beside 5.x (TypeLoadException),
/// so the host registers this one in its place; the status blob keeps the original layout:
/// <c>azure-webjobs-hosts/timers/{hostId}/{timerName}/status</c>.
/// </summary>
internal sealed class BlobScheduleMonitor(BlobServiceClient blobs, IHostIdProvider hostIds) : ScheduleMonitor
{
    private readonly BlobContainerClient _container = blobs.GetBlobContainerClient("azure-webjobs-hosts");

    /// <inheritdoc/>
    public override async Task<ScheduleStatus?> GetStatusAsync(string timerName)
    {
        try
        {
            var content = (await (await BlobAsync(timerName).ConfigureAwait(false)).DownloadContentAsync().ConfigureAwait(false)).Value.Content;
            return JsonConvert.DeserializeObject<ScheduleStatus>(content.ToString());
        }
        catch (RequestFailedException ex) when (ex.Status == 404)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public override async Task UpdateStatusAsync(string timerName, ScheduleStatus status)
    {
        await _container.CreateIfNotExistsAsync().ConfigureAwait(false);
        await (await BlobAsync(timerName).ConfigureAwait(false)).UploadAsync(BinaryData.FromString(JsonConvert.SerializeObject(status)), overwrite: true).ConfigureAwait(false);
    }

    private async Task<BlobClient> BlobAsync(string timerName) =>
        _container.GetBlobClient($"timers/{await hostIds.GetHostIdAsync(CancellationToken.None).ConfigureAwait(false)}/{timerName}/status");
}
