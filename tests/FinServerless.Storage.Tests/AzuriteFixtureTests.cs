using FinServerless.Azurite;
using FinServerless.Storage.Blobs;

namespace FinServerless.Storage.Tests;

public sealed class AzuriteFixtureTests
{
    [Fact]
    public async Task Two_servers_started_at_once_get_different_ports_and_separate_data()
    {
        var starting = new[] { AzuriteServer.StartAsync(), AzuriteServer.StartAsync() };
        await using var a = await starting[0];
        await using var b = await starting[1];

        Assert.NotEqual(a.BlobEndpoint.Port, b.BlobEndpoint.Port);
        var containerA = BlobServiceClient.FromConnectionString(a.ConnectionString).GetBlobContainerClient("only-in-a");
        await containerA.CreateIfNotExistsAsync();
        Assert.True(await containerA.ExistsAsync());
        Assert.False(await BlobServiceClient.FromConnectionString(b.ConnectionString).GetBlobContainerClient("only-in-a").ExistsAsync());
    }

    [Fact]
    public async Task Dispose_stops_the_process_and_removes_its_workspace()
    {
        var server = await AzuriteServer.StartAsync();
        var endpoint = server.BlobEndpoint;
        await server.DisposeAsync();

        Assert.False(server.IsRunning);
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetAsync(endpoint));
    }
}
