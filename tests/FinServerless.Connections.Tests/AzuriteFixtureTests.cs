using FinServerless.Azurite;
using FinServerless.Connections;

namespace FinServerless.Connections.Tests;

public sealed class AzuriteFixtureTests
{
    [Fact]
    public async Task Two_servers_started_at_once_get_different_ports_and_separate_data()
    {
        var starting = new[] { AzuriteServer.StartAsync(), AzuriteServer.StartAsync() };
        await using var a = await starting[0];
        await using var b = await starting[1];

        Assert.NotEqual(a.BlobEndpoint.Port, b.BlobEndpoint.Port);
        var containerA = StorageConnection.FromConnectionString(a.ConnectionString).CreateBlobServiceClient().GetBlobContainerClient("only-in-a");
        await containerA.CreateIfNotExistsAsync();
        Assert.True(await containerA.ExistsAsync());
        Assert.False(await StorageConnection.FromConnectionString(b.ConnectionString).CreateBlobServiceClient().GetBlobContainerClient("only-in-a").ExistsAsync());
    }
}
