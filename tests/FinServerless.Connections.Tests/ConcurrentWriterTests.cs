using System.Text;
using Azure;
using Azure.Storage.Blobs.Models;
using FinServerless.Testing;

namespace FinServerless.Connections.Tests;

/// <summary>ETag-conditional writers on one blob: optimistic concurrency as the SDK exposes it.</summary>
public sealed class ConcurrentWriterTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    [Fact]
    public async Task Twenty_writers_racing_on_one_ETag_leave_exactly_one_winner_and_nineteen_412s()
    {
        var container = azurite.Blobs.GetBlobContainerClient(AzuriteFixture.UniqueName("race"));
        await container.CreateIfNotExistsAsync();
        var blob = container.GetBlobClient("models/credit/champion.json");
        var original = (await blob.UploadAsync(new BinaryData("{\"version\":0}"u8.ToArray()))).Value.ETag;
        using var start = new ManualResetEventSlim();

        var writers = Enumerable.Range(1, 20).Select(id => Task.Run(async () =>
        {
            start.Wait();
            try
            {
                await blob.UploadAsync(BinaryData.FromString($"{{\"version\":{id}}}"), new BlobUploadOptions { Conditions = new BlobRequestConditions { IfMatch = original } });
                return (id, error: (RequestFailedException?)null);
            }
            catch (RequestFailedException ex)
            {
                return (id, error: ex);
            }
        })).ToList();
        start.Set();
        var outcomes = await Task.WhenAll(writers);

        var winner = Assert.Single(outcomes, o => o.error is null);
        var losers = outcomes.Where(o => o.error is not null).ToList();
        Assert.Equal(19, losers.Count);
        Assert.All(losers, l => Assert.Equal(412, l.error!.Status));
        Assert.All(losers, l => Assert.Equal("ConditionNotMet", l.error!.ErrorCode));
        Assert.Equal($"{{\"version\":{winner.id}}}", (await blob.DownloadContentAsync()).Value.Content.ToString());
    }

    [Fact(Timeout = 180_000)]
    public async Task Read_modify_write_with_If_Match_by_eight_writers_loses_no_update()
    {
        const int writers = 8;
        const int incrementsEach = 10;
        var container = azurite.Blobs.GetBlobContainerClient(AzuriteFixture.UniqueName("counter"));
        await container.CreateIfNotExistsAsync();
        var blob = container.GetBlobClient("counter.txt");
        await blob.UploadAsync(BinaryData.FromString("0"));
        var conflicts = 0;
        using var start = new ManualResetEventSlim();

        var tasks = Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            start.Wait();
            var applied = new List<string>();
            for (var i = 0; i < incrementsEach; i++)
            {
                while (true)
                {
                    var current = await blob.DownloadContentAsync();
                    var lines = current.Value.Content.ToString().Split('\n');
                    var next = new StringBuilder((int.Parse(lines[0]) + 1).ToString()).Append('\n').AppendJoin('\n', lines.Skip(1).Append($"w{w}-{i}")).ToString();
                    try
                    {
                        await blob.UploadAsync(BinaryData.FromString(next), new BlobUploadOptions { Conditions = new BlobRequestConditions { IfMatch = current.Value.Details.ETag } });
                        applied.Add($"w{w}-{i}");
                        break;
                    }
                    catch (RequestFailedException ex) when (ex.Status == 412)
                    {
                        Interlocked.Increment(ref conflicts);
                    }
                }
            }

            return applied;
        })).ToList();
        start.Set();
        var applied = (await Task.WhenAll(tasks)).SelectMany(a => a).ToList();

        var final = (await blob.DownloadContentAsync()).Value.Content.ToString().Split('\n');
        Assert.Equal(writers * incrementsEach, int.Parse(final[0]));
        Assert.Equal(applied.Order(), final.Skip(1).Where(l => l.Length > 0).Order());
        Assert.True(conflicts > 0, "the writers should actually have raced");
    }
}
