using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using FinServerless.DevHost;
using FinServerless.Native;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using Azure.Storage.Queues;
using Azure.Storage.Queues.Models;
using FinServerless.Connections;
using FinServerless.Testing;

namespace FinServerless.Functions.Tests;

/// <summary>One dev host on a real Azurite with small request limits, and two partners: a victim with data, an attacker with an inbox SAS.</summary>
public sealed class HostileHostFixture : IAsyncLifetime
{
    public const long HostBodyLimit = 1 << 20;
    public const long ScoreBodyLimit = 64 * 1024;

    private readonly List<string> _log = [];

    public AzuriteFixture Azurite { get; } = new();

    internal FinServerless.IsolatedHost.IsolatedFunctionsHost Host { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    /// <summary>The attacker's inbox, reached only through its partner SAS.</summary>
    public BlobContainerClient AttackerInbox { get; private set; } = null!;

    public string[] Log()
    {
        lock (_log)
        {
            return [.. _log];
        }
    }

    public async Task InitializeAsync()
    {
        await Azurite.InitializeAsync();
        var contract = await File.ReadAllTextAsync(Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "contract.json"));
        var blobs = Azurite.Blobs;
        foreach (var partner in new[] { "victim", "attacker" })
        {
            var contracts = blobs.GetBlobContainerClient("contracts");
            await contracts.CreateIfNotExistsAsync();
            await contracts.GetBlobClient($"{partner}/taiwan-credit.json").UploadAsync(new BinaryData(contract.Replace("\"partner\": \"demo\"", $"\"partner\": \"{partner}\"", StringComparison.Ordinal)), new BlobUploadOptions());
            await blobs.GetBlobContainerClient($"inbox-{partner}").CreateIfNotExistsAsync();
        }

        // The victim's own file, which the attacker must never reach.
        await blobs.GetBlobContainerClient("inbox-victim").GetBlobClient("taiwan-credit/secret.csv").UploadAsync(
            new BinaryData(File.ReadAllBytes(Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "UCI_Credit_Card.csv"))[..20_000].AsMemory()[..LastNewline()]), new BlobUploadOptions());

        var sas = await PartnerInboxSas.CreateAsync(blobs, FinServerless.Contracts.StorageName.Partner("attacker"), TimeSpan.FromHours(1), allowHttp: true);
        AttackerInbox = new BlobContainerClient(sas.Uri);

        var settings = AppLayout.Settings(Azurite.ConnectionString);
        settings["FUNCTIONS_REQUEST_BODY_SIZE_LIMIT"] = HostBodyLimit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        settings["FINSERVERLESS_SCORE_MAX_BODY_BYTES"] = ScoreBodyLimit.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Host = await AppHost.StartAsync(settings, l => { lock (_log) { _log.Add(l); } });
        Http = new HttpClient { BaseAddress = Host.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };

        static int LastNewline() => Array.LastIndexOf(File.ReadAllBytes(Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "UCI_Credit_Card.csv"))[..20_000], (byte)'\n') + 1;
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        if (Host is not null)
        {
            await Host.DisposeAsync();
        }

        await Azurite.DisposeAsync();
    }
}

/// <summary>
/// Tenant isolation and hostile input through the paths a partner or caller really uses: blobs dropped with the
/// partner's inbox SAS, BlobCreated events on the queue, and the dev host's HTTP API.
/// </summary>
public sealed class TenantIsolationTests(HostileHostFixture fixture) : IClassFixture<HostileHostFixture>
{
    private BlobServiceClient Blobs => fixture.Azurite.Blobs;

    /// <summary>Where the layout records a refused name; it must be the digest-named record under <c>_invalid/</c>.</summary>
    private static string FailurePath(string container, string blob)
    {
        var path = FinServerless.Contracts.StorageLayout.IngestFailure(container, blob);
        Assert.StartsWith("quarantine/_failures/_invalid/", path, StringComparison.Ordinal);
        return path["quarantine/".Length..];
    }

    private async Task<JsonObject> WaitForBlobAsync(string container, string name, string what) =>
        await Poll.UntilAsync(
            async () =>
            {
                try
                {
                    return JsonNode.Parse((await Blobs.GetBlobContainerClient(container).GetBlobClient(name).DownloadContentAsync()).Value.Content.ToMemory().Span) as JsonObject;
                }
                catch (Azure.RequestFailedException ex) when (ex.Status == 404)
                {
                    return null;
                }
            },
            TimeSpan.FromMinutes(2),
            what);

    private async Task<List<string>> NamesAsync(string container, string? prefix = null)
    {
        var names = new List<string>();
        var client = Blobs.GetBlobContainerClient(container);
        if (await client.ExistsAsync())
        {
            await foreach (var item in client.GetBlobsAsync(BlobTraits.None, BlobStates.None, prefix, default))
            {
                names.Add(item.Name);
            }
        }

        return names;
    }

    [Fact]
    public async Task A_file_whose_first_line_is_personal_data_is_rejected_without_that_line_reaching_the_log_or_the_report()
    {
        const string ssn = "078-05-1120";
        const string name = "Hilda Whitcher-Pryce";
        var file = $"1,{ssn},{name},50000,2,2,1,24,2,2,-1,-1,-2,-2,3913,3102,689,0,0,0,0,689,0,0,0,0,1\n2,120000,2,2,2,26,-1,2,0,0,0,2,2682,1725,2682,3272,3455,3261,0,1000,1000,1000,0,2000,1\n";
        var inbox = fixture.Azurite.Blobs.GetBlobContainerClient("inbox-pii");
        await inbox.CreateIfNotExistsAsync();
        var contract = (await File.ReadAllTextAsync(Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "contract.json"))).Replace("\"partner\": \"demo\"", "\"partner\": \"pii\"", StringComparison.Ordinal);
        await Blobs.GetBlobContainerClient("contracts").GetBlobClient("pii/taiwan-credit.json").UploadAsync(new BinaryData(contract), new BlobUploadOptions());
        await inbox.GetBlobClient("taiwan-credit/no-header.csv").UploadAsync(new BinaryData(Encoding.UTF8.GetBytes(file)), new BlobUploadOptions());

        var report = await Poll.UntilAsync(
            async () =>
            {
                foreach (var blob in await NamesAsync("quarantine", "pii/taiwan-credit/"))
                {
                    if (blob.EndsWith("report.json", StringComparison.Ordinal))
                    {
                        return JsonNode.Parse((await Blobs.GetBlobContainerClient("quarantine").GetBlobClient(blob).DownloadContentAsync()).Value.Content.ToMemory().Span) as JsonObject;
                    }
                }

                return null;
            },
            TimeSpan.FromMinutes(2),
            "the rejected file's report");
        await Poll.UntilAsync(async () => { await Task.Yield(); return fixture.Log().Any(l => l.Contains("no-header.csv", StringComparison.Ordinal) && l.Contains("Rejected", StringComparison.Ordinal)) ? [] : null; }, TimeSpan.FromSeconds(30), "the ingest log line");

        Assert.Contains("header", report["reason"]!.GetValue<string>(), StringComparison.OrdinalIgnoreCase);
        foreach (var text in new[] { report.ToJsonString() }.Concat(fixture.Log()))
        {
            Assert.DoesNotContain(ssn, text, StringComparison.Ordinal);
            Assert.DoesNotContain("Whitcher", text, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData("taiwan-credit/%2e%2e/%2e%2e/inbox-victim/taiwan-credit/secret.csv")]
    [InlineData("taiwan-credit/%2E%2E%2F%2E%2E%2Finbox-victim%2Ftaiwan-credit%2Fsecret.csv")]
    [InlineData("taiwan-credit/\u2024\u2024/inbox-victim/secret.csv")]
    [InlineData("taiwan-credit/sub/../../x.csv")]
    public async Task A_blob_dropped_with_the_partner_SAS_whose_name_climbs_out_is_recorded_and_never_ingested(string name)
    {
        await fixture.AttackerInbox.GetBlobClient(name).UploadAsync(new BinaryData("ID,LIMIT_BAL\n1,1000\n"u8.ToArray()), new BlobUploadOptions());
        // Whatever name storage kept (the client may have normalized dots away), nothing in this inbox is well named.
        var stored = await NamesAsync("inbox-attacker");
        Assert.NotEmpty(stored);
        foreach (var storedName in stored)
        {
            var failure = await WaitForBlobAsync("quarantine", FailurePath("inbox-attacker", storedName), $"the failure record of {storedName}");
            Assert.Equal("invalid_name", failure["rule"]!.GetValue<string>());
            Assert.Contains("not a valid", failure["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        }

        Assert.Empty(await NamesAsync("curated", "attacker/"));
        Assert.Empty(await NamesAsync("quarantine", "attacker/"));
        Assert.DoesNotContain(fixture.Log(), l => l.Contains("IngestDataset (queueTrigger ingest-events) failed", StringComparison.Ordinal)); // a verdict, not a retried failure
    }

    [Theory]
    [InlineData("inbox-attacker", "taiwan-credit/../../inbox-victim/taiwan-credit/secret.csv")]
    [InlineData("inbox-attacker", "../inbox-victim/taiwan-credit/secret.csv")]
    [InlineData("inbox-attacker", "taiwan-credit/..%2F..%2Finbox-victim%2Ftaiwan-credit%2Fsecret.csv")]
    [InlineData("inbox-attacker/../inbox-victim", "taiwan-credit/secret.csv")]
    [InlineData("inbox-attacker", "taiwan-credit\\..\\..\\inbox-victim\\taiwan-credit\\secret.csv")]
    [InlineData("curated", "victim/taiwan-credit/x/_manifest.json")]
    public async Task A_BlobCreated_event_naming_a_path_outside_the_inbox_is_recorded_and_never_ingested(string container, string blob)
    {
        // Event Grid delivers whatever name storage reports; the URL is built without normalizing the dots.
        var url = $"{Blobs.Uri.AbsoluteUri.TrimEnd('/')}/{container}/{string.Join('/', blob.Split('/').Select(Uri.EscapeDataString))}";
        var evt = new JsonObject
        {
            ["eventType"] = "Microsoft.Storage.BlobCreated",
            ["subject"] = $"/blobServices/default/containers/{container}/blobs/{blob}",
            ["data"] = new JsonObject { ["url"] = url, ["api"] = "PutBlob" },
        };
        var queue = fixture.Azurite.Queues.GetQueueClient("ingest-events");
        await queue.CreateIfNotExistsAsync();
        await queue.SendMessageAsync(evt.ToJsonString());

        var decoded = Uri.UnescapeDataString(url[(Blobs.Uri.AbsoluteUri.TrimEnd('/').Length + 1)..]);
        var slash = decoded.IndexOf('/');
        var failure = await WaitForBlobAsync("quarantine", FailurePath(decoded[..slash], decoded[(slash + 1)..]), "the failure record");
        Assert.Equal("rejected", failure["state"]!.GetValue<string>());
        Assert.Empty(await NamesAsync("curated", "attacker/"));
        Assert.Empty(await NamesAsync("quarantine", "attacker/"));
    }

    [Theory]
    [InlineData("../inbox-attacker/evil@1")]
    [InlineData("evil@../../inbox-attacker/evil/1")]
    [InlineData("evil@1/../../../inbox-attacker/evil/1")]
    [InlineData("%2e%2e@1")]
    [InlineData("evil@%2e%2e")]
    [InlineData("inbox-attacker/evil@champion")]
    [InlineData("evil")]
    public async Task A_model_reference_that_is_not_two_valid_names_is_a_400_naming_the_field(string model)
    {
        // The attacker's "model", uploaded where it can write: it must never be loaded.
        await fixture.AttackerInbox.GetBlobClient("evil/1/manifest.json").UploadAsync(new BinaryData("{}"u8.ToArray()), new BlobUploadOptions());

        using var response = await fixture.Http.PostAsJsonAsync("api/score", new { model, rows = new[] { new { ID = "1", LIMIT_BAL = 1000 } } });
        var body = await response.Content.ReadFromJsonAsync<JsonObject>();

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("InvalidName", body!["error"]!["code"]!.GetValue<string>());
        Assert.StartsWith("model:", body["error"]!["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unknown_models_are_404_and_hostile_names_in_routes_and_jobs_are_400()
    {
        using var unknown = await fixture.Http.PostAsJsonAsync("api/score", new { model = "nobody@champion", rows = new[] { new { ID = "1" } } });
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        using var unknownVersion = await fixture.Http.GetAsync("api/models/nobody/1.0.0");
        Assert.True(unknownVersion.StatusCode == HttpStatusCode.NotFound, await unknownVersion.Content.ReadAsStringAsync());

        foreach (var route in new[] { "api/models/evil/v%201", "api/models/ev!l", "api/models/evil/champion", "api/models/evil/%252e%252e" })
        {
            using var bad = await fixture.Http.GetAsync(route);
            Assert.True(bad.StatusCode == HttpStatusCode.BadRequest, $"{route}: {bad.StatusCode}");
        }

        using var badRun = await fixture.Http.GetAsync("api/runs/Victim/taiwan-credit");
        Assert.Equal(HttpStatusCode.BadRequest, badRun.StatusCode);
        Assert.Contains("partner", (await badRun.Content.ReadAsStringAsync()), StringComparison.Ordinal);

        foreach (var body in new object[]
                 {
                     new { model = "taiwan-credit-xgboost@champion", run = "curated/victim/taiwan-credit/../../attacker/taiwan-credit/r1/_manifest.json" },
                     new { model = "taiwan-credit-xgboost@champion", run = "inbox-attacker/taiwan-credit/r1/_manifest.json" },
                     new { model = "taiwan-credit-xgboost@champion", partner = "../victim", dataset = "taiwan-credit" },
                     new { model = "../x@1", partner = "victim", dataset = "taiwan-credit" },
                 })
        {
            using var job = await fixture.Http.PostAsJsonAsync("api/score-jobs", body);
            Assert.Equal(HttpStatusCode.BadRequest, job.StatusCode);
            Assert.Equal("InvalidName", (await job.Content.ReadFromJsonAsync<JsonObject>())!["error"]!["code"]!.GetValue<string>());
        }

        var listed = await fixture.Http.GetFromJsonAsync<JsonObject>("api/models");
        Assert.DoesNotContain(listed!["models"]!.AsArray(), m => m!["name"]!.GetValue<string>() == "evil");
    }

    [Theory]
    [InlineData("{\"partner\":\"../victim\",\"dataset\":\"taiwan-credit\"}", "BadRequest", "partner")]
    [InlineData("{\"partner\":\"attacker\"}", "BadRequest", "'partner' and 'dataset' are required")]
    [InlineData("not json", "BadRequest", "must be a JSON object")]
    public async Task A_training_request_that_names_no_valid_data_is_a_400_and_starts_nothing(string body, string code, string named)
    {
        using var response = await fixture.Http.PostAsync("api/training", new StringContent(body, Encoding.UTF8, "application/json"));
        var error = JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!;

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal(code, error["code"]!.GetValue<string>());
        Assert.Contains(named, error["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Request_bodies_are_capped_by_the_host_and_by_ScoreBatch_and_other_content_types_are_415()
    {
        // Declared far beyond the host's limit: refused before a byte is read.
        var declared = await RawStatusAsync($"Content-Length: {1L << 30}\r\n", async stream => await stream.WriteAsync(new byte[4096]));
        Assert.Equal(413, declared);

        // Chunked, no length: cut off by the host once it passes the limit.
        var chunked = await RawStatusAsync("Transfer-Encoding: chunked\r\n", async stream =>
        {
            var chunk = Encoding.ASCII.GetBytes($"{64 * 1024:x}\r\n{new string('x', 64 * 1024)}\r\n");
            for (var sent = 0L; sent < 4 * HostileHostFixture.HostBodyLimit; sent += 64 * 1024)
            {
                await stream.WriteAsync(chunk);
            }
        });
        Assert.Equal(413, chunked);

        // Under the host's limit but over ScoreBatch's own.
        var rows = Enumerable.Range(0, 5_000).Select(i => new { ID = i.ToString(System.Globalization.CultureInfo.InvariantCulture), LIMIT_BAL = 1000 }).ToArray();
        using (var response = await fixture.Http.PostAsJsonAsync("api/score", new { model = "nobody@champion", rows }))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
            Assert.Contains("FINSERVERLESS_SCORE_MAX_BODY_BYTES", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        using (var xml = await fixture.Http.PostAsync("api/score", new StringContent("<rows/>", Encoding.UTF8, "application/xml")))
        {
            Assert.Equal(HttpStatusCode.UnsupportedMediaType, xml.StatusCode);
        }

        using var health = await fixture.Http.GetAsync("api/health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode); // the host keeps serving
    }

    /// <summary>
    /// POSTs to /api/score over a raw connection, writing the body while reading the answer: a host that refuses
    /// a body answers before it is sent (or while it is sent), which an HTTP client would report as a broken pipe.
    /// </summary>
    private async Task<int> RawStatusAsync(string framing, Func<Stream, Task> writeBody)
    {
        using var tcp = new System.Net.Sockets.TcpClient();
        await tcp.ConnectAsync(fixture.Host.BaseAddress.Host, fixture.Host.BaseAddress.Port);
        var stream = tcp.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /api/score HTTP/1.1\r\nHost: {fixture.Host.BaseAddress.Authority}\r\nContent-Type: application/json\r\n{framing}\r\n"));
        var writing = Task.Run(async () =>
        {
            try
            {
                await writeBody(stream);
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException)
            {
                // The host closed the connection after answering: expected.
            }
        });
        using var reader = new StreamReader(stream, Encoding.ASCII, leaveOpen: true);
        var status = await reader.ReadLineAsync() ?? throw new IOException("the host closed the connection without an answer");
        tcp.Close();
        await writing;
        return int.Parse(status.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
    }
}
