using Azure;
using FinServerless.Storage.Blobs;
using FinServerless.Testing;

namespace FinServerless.Storage.Tests;

public sealed class ConcurrentWriterTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task Twenty_writers_racing_on_one_ETag_leave_exactly_one_winner_and_nineteen_clear_conflicts()
    {
        var container = azurite.Blobs.GetBlobContainerClient(AzuriteFixture.UniqueName("race"));
        await container.CreateIfNotExistsAsync();
        var blob = container.GetBlobClient("models/credit/champion.json");
        var original = await blob.UploadAsync(new BinaryData("{\"version\":0}"u8.ToArray()));
        using var start = new ManualResetEventSlim();

        var writers = Enumerable.Range(1, 20).Select(id => Task.Run(async () =>
        {
            start.Wait();
            try
            {
                await blob.UploadAsync(new BinaryData(System.Text.Encoding.UTF8.GetBytes($"{{\"version\":{id}}}")), new BlobUploadOptions
                {
                    Conditions = BlobRequestConditions.Matching(original.ETag),
                });
                return (id, error: (RequestFailedException?)null);
            }
            catch (RequestFailedException ex)
            {
                return (id, error: ex);
            }
        })).ToList();
        start.Set();
        var outcomes = await Task.WhenAll(writers);

        var winners = outcomes.Where(o => o.error is null).ToList();
        var losers = outcomes.Where(o => o.error is not null).ToList();
        var winner = Assert.Single(winners);
        Assert.Equal(19, losers.Count);
        Assert.All(losers, l => Assert.Equal(412, l.error!.Status));
        Assert.All(losers, l => Assert.Contains("Another writer changed the blob", l.error!.Message));
        Assert.Equal($"{{\"version\":{winner.id}}}", (await blob.DownloadContentAsync()).ToString());
    }
}
