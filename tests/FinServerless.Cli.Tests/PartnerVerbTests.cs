using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Azure;
using FinServerless.Azurite;
using FinServerless.Native;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using FinServerless.Testing;

namespace FinServerless.Cli.Tests;

/// <summary>
/// <c>finserverless partner add</c> against a real Azurite: the verb's output, and what the printed SAS (and only it)
/// can and cannot do.
/// </summary>
public sealed class PartnerVerbTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    private const string Dataset = "taiwan-credit";

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("finserverless-partner-cli-");

    public void Dispose() => _folder.Delete(recursive: true);

    /// <summary>A partner name no other test uses (lowercase letters, digits, single hyphens).</summary>
    private static string NewPartner(string prefix) => $"{prefix}-{Guid.NewGuid():N}"[..(prefix.Length + 13)];

    /// <summary>The Taiwan sample contract, for <paramref name="partner"/> (and <paramref name="dataset"/>, version <paramref name="version"/>).</summary>
    private string WriteContract(string partner, string dataset = Dataset, string version = "1.0.0")
    {
        var text = File.ReadAllText(Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "contract.json"))
            .Replace("\"partner\": \"demo\"", $"\"partner\": \"{partner}\"", StringComparison.Ordinal)
            .Replace("\"dataset\": \"taiwan-credit\"", $"\"dataset\": \"{dataset}\"", StringComparison.Ordinal)
            .Replace("\"contractVersion\": \"1.1.0\"", $"\"contractVersion\": \"{version}\"", StringComparison.Ordinal);
        var path = Path.Combine(_folder.FullName, $"{Guid.NewGuid():N}.json");
        File.WriteAllText(path, text);
        return path;
    }

    private static async Task<(int Code, string Out, string Err)> RunAsync(Func<string, string?>? environment, params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var code = await PartnerVerbs.RunAsync(args, stdout, stderr, environment ?? (_ => null), CancellationToken.None);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private static async Task<RequestFailedException> RefusedAsync(Func<Task> attempt)
    {
        var error = await Assert.ThrowsAsync<RequestFailedException>(attempt);
        Assert.Equal(403, error.Status);
        return error;
    }

    private async Task<List<string>> ContainersAsync()
    {
        var names = new List<string>();
        await foreach (var item in azurite.Blobs.GetBlobContainersAsync(BlobContainerTraits.None, BlobContainerStates.None, null, default))
        {
            names.Add(item.Name);
        }

        return names;
    }

    [Fact]
    public async Task The_printed_SAS_uploads_into_the_partners_own_inbox_and_can_do_nothing_else()
    {
        var partner = NewPartner("acme");
        var rival = NewPartner("rival");
        var admin = azurite.Blobs;
        var other = admin.GetBlobContainerClient($"inbox-{rival}");
        await other.CreateIfNotExistsAsync();
        await other.GetBlobClient($"{Dataset}/theirs.csv").UploadAsync(new BinaryData("id\n1\n"u8.ToArray()), overwrite: true);
        var curated = admin.GetBlobContainerClient("curated");
        await curated.CreateIfNotExistsAsync();
        await curated.GetBlobClient($"{partner}/{Dataset}/r1/_manifest.json").UploadAsync(new BinaryData("{}"u8.ToArray()), overwrite: true);
        var contractFile = WriteContract(partner);

        var (code, stdout, stderr) = await RunAsync(null, "add", "--partner", partner, "--contract", contractFile, "--connection", azurite.ConnectionString, "--json");

        Assert.True(code == 0, stderr);
        Assert.DoesNotContain(AzuriteServer.AccountKey, stdout + stderr);
        var result = JsonNode.Parse(stdout)!;
        Assert.Equal($"inbox-{partner}", result["container"]!.GetValue<string>());
        Assert.True(result["containerCreated"]!.GetValue<bool>());
        Assert.False(result["contractReplaced"]!.GetValue<bool>());
        Assert.Equal($"contracts/{partner}/{Dataset}.json", result["contract"]!.GetValue<string>());
        Assert.Equal("cw", result["permissions"]!.GetValue<string>());
        Assert.Equal("accountKey", result["signedWith"]!.GetValue<string>());
        var expires = DateTimeOffset.Parse(result["expiresOn"]!.GetValue<string>(), CultureInfo.InvariantCulture);
        Assert.InRange(expires - DateTimeOffset.UtcNow, TimeSpan.FromDays(7) - TimeSpan.FromMinutes(5), TimeSpan.FromDays(7) + TimeSpan.FromMinutes(1));
        Assert.Equal(await File.ReadAllBytesAsync(contractFile), (await admin.GetBlobContainerClient("contracts").GetBlobClient($"{partner}/{Dataset}.json").DownloadContentAsync()).Value.Content.ToArray());

        // From here on, only what was printed.
        var sasUrl = new Uri(result["sasUrl"]!.GetValue<string>());
        var sas = sasUrl.Query.TrimStart('?');
        var inbox = new BlobContainerClient(sasUrl);
        BlobContainerClient Elsewhere(string container) => new BlobContainerClient(new Uri($"{admin.Uri}/{container}?{sas}"));

        await inbox.GetBlobClient($"{Dataset}/file.csv").UploadAsync(new BinaryData("id,amount\n1,100\n"u8.ToArray()), new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "text/csv" } });
        Assert.Equal("id,amount\n1,100\n", (await admin.GetBlobContainerClient($"inbox-{partner}").GetBlobClient($"{Dataset}/file.csv").DownloadContentAsync()).Value.Content.ToString());

        await RefusedAsync(() => inbox.GetBlobClient($"{Dataset}/file.csv").DownloadContentAsync());
        await RefusedAsync(async () => { await foreach (var page in inbox.GetBlobsAsync(BlobTraits.None, BlobStates.None, null, default).AsPages()) { _ = page; } });
        await RefusedAsync(() => inbox.GetBlobClient($"{Dataset}/file.csv").DeleteAsync());
        Assert.True(await admin.GetBlobContainerClient($"inbox-{partner}").GetBlobClient($"{Dataset}/file.csv").ExistsAsync(), "the refused delete left the file");

        await RefusedAsync(() => Elsewhere($"inbox-{rival}").GetBlobClient($"{Dataset}/planted.csv").UploadAsync(new BinaryData("x"u8.ToArray()), overwrite: true));
        await RefusedAsync(() => Elsewhere($"inbox-{rival}").GetBlobClient($"{Dataset}/theirs.csv").DownloadContentAsync());
        Assert.False(await other.GetBlobClient($"{Dataset}/planted.csv").ExistsAsync());

        await RefusedAsync(() => Elsewhere("contracts").GetBlobClient($"{partner}/{Dataset}.json").DownloadContentAsync());
        await RefusedAsync(() => Elsewhere("contracts").GetBlobClient($"{partner}/{Dataset}.json").UploadAsync(new BinaryData("{}"u8.ToArray()), overwrite: true));
        Assert.Equal(await File.ReadAllBytesAsync(contractFile), (await admin.GetBlobContainerClient("contracts").GetBlobClient($"{partner}/{Dataset}.json").DownloadContentAsync()).Value.Content.ToArray());
        await RefusedAsync(() => Elsewhere("curated").GetBlobClient($"{partner}/{Dataset}/r1/_manifest.json").DownloadContentAsync());
        await RefusedAsync(() => Elsewhere("curated").GetBlobClient($"{partner}/{Dataset}/r2/_manifest.json").UploadAsync(new BinaryData("{}"u8.ToArray()), overwrite: true));
    }

    [Fact]
    public async Task Onboarding_again_replaces_the_contract_says_so_and_honours_expires()
    {
        var partner = NewPartner("twice");
        var first = await RunAsync(null, "add", "--partner", partner, "--contract", WriteContract(partner), "--connection", azurite.ConnectionString);
        Assert.True(first.Code == 0, first.Err);
        Assert.Contains($"inbox-{partner} (created)", first.Out);
        Assert.Contains("version '1.0.0'; new)", first.Out);
        Assert.Contains("The partner cannot:", first.Out);
        Assert.Contains("read, list or delete", first.Out);

        var newer = WriteContract(partner, version: "1.1.0");
        var second = await RunAsync(null, "add", "--partner", partner, "--contract", newer, "--connection", azurite.ConnectionString, "--expires", "36h");

        Assert.True(second.Code == 0, second.Err);
        Assert.Contains($"inbox-{partner} (already existed)", second.Out);
        Assert.Contains("replaced an older contract, version '1.0.0'", second.Out);
        Assert.Contains("(in 36 hours)", second.Out);
        Assert.DoesNotContain(AzuriteServer.AccountKey, second.Out + second.Err);
        var expiry = System.Web.HttpUtility.ParseQueryString(new Uri(second.Out.Split('\n').Single(l => l.TrimStart().StartsWith("SAS URL", StringComparison.Ordinal)).Trim()["SAS URL".Length..].Trim()).Query)["se"];
        Assert.InRange(DateTimeOffset.Parse(expiry!, CultureInfo.InvariantCulture) - DateTimeOffset.UtcNow, TimeSpan.FromHours(36) - TimeSpan.FromMinutes(5), TimeSpan.FromHours(36) + TimeSpan.FromMinutes(1));
        Assert.Equal(await File.ReadAllBytesAsync(newer), (await azurite.Blobs.GetBlobContainerClient("contracts").GetBlobClient($"{partner}/{Dataset}.json").DownloadContentAsync()).Value.Content.ToArray());
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("Acme")]
    [InlineData("a%2e")]
    [InlineData("acme/../rival")]
    [InlineData("")]
    public async Task A_bad_partner_name_is_refused_naming_the_option_and_nothing_is_created(string partner)
    {
        var before = await ContainersAsync();

        var (code, stdout, stderr) = await RunAsync(null, "add", "--partner", partner, "--contract", WriteContract("acme"), "--connection", azurite.ConnectionString);

        Assert.Equal(2, code);
        Assert.Contains("--partner", stderr);
        Assert.Contains("not a valid partner name", stderr);
        Assert.Empty(stdout);
        Assert.Equal(before, await ContainersAsync());
    }

    [Fact]
    public async Task A_contract_for_another_partner_or_with_a_bad_dataset_name_is_refused()
    {
        var partner = NewPartner("mine");
        var before = await ContainersAsync();

        var foreign = await RunAsync(null, "add", "--partner", partner, "--contract", WriteContract("demo"), "--connection", azurite.ConnectionString);
        var badDataset = await RunAsync(null, "add", "--partner", partner, "--contract", WriteContract(partner, dataset: "../loans"), "--connection", azurite.ConnectionString);

        Assert.Equal(2, foreign.Code);
        Assert.Contains("--contract", foreign.Err);
        Assert.Contains("is for partner 'demo'", foreign.Err);
        Assert.Contains("--partner", foreign.Err);
        Assert.Equal(2, badDataset.Code);
        Assert.Contains("--contract", badDataset.Err);
        Assert.Contains("not a valid dataset name", badDataset.Err);
        Assert.Equal(before, await ContainersAsync());
    }

    [Theory]
    [InlineData("31d", "out of range")]
    [InlineData("0", "not a duration")]
    [InlineData("30m", "not a duration")]
    [InlineData("soon", "not a duration")]
    public async Task An_expiry_outside_one_hour_to_thirty_days_is_refused(string expires, string why)
    {
        var partner = NewPartner("late");
        var (code, _, stderr) = await RunAsync(null, "add", "--partner", partner, "--contract", WriteContract(partner), "--connection", azurite.ConnectionString, "--expires", expires);

        Assert.Equal(2, code);
        Assert.Contains("--expires", stderr);
        Assert.Contains(why, stderr);
        Assert.DoesNotContain($"inbox-{partner}", await ContainersAsync());
    }

    [Fact]
    public async Task An_identity_based_connection_signs_with_a_user_delegation_key_so_at_most_seven_days()
    {
        // Identity-based settings as the function app reads them; no request is made before the expiry is checked.
        var settings = new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage__blobServiceUri"] = "https://finserverlessexample.blob.core.windows.net",
            ["AzureWebJobsStorage__credential"] = "managedidentity",
        };
        var partner = NewPartner("ident");

        var (code, _, stderr) = await RunAsync(settings.GetValueOrDefault, "add", "--partner", partner, "--contract", WriteContract(partner), "--expires", "8d");

        Assert.Equal(2, code);
        Assert.Contains("--expires '8d' is out of range", stderr);
        Assert.Contains("user delegation key lives 7 days at most", stderr);
    }

    [Fact]
    public async Task A_connection_that_is_itself_a_SAS_cannot_issue_one_and_a_missing_connection_is_named()
    {
        var partner = NewPartner("sas");
        var viaSas = await RunAsync(null, "add", "--partner", partner, "--contract", WriteContract(partner), "--connection", $"BlobEndpoint={azurite.Server.BlobEndpoint};SharedAccessSignature=sv=2025-11-05&sig=x");
        var none = await RunAsync(null, "add", "--partner", partner, "--contract", WriteContract(partner));
        var malformed = await RunAsync(null, "add", "--partner", partner, "--contract", WriteContract(partner), "--connection", "not a connection string");

        Assert.Equal(2, viaSas.Code);
        Assert.Contains("cannot issue another SAS", viaSas.Err);
        Assert.Equal(2, none.Code);
        Assert.Contains("pass --connection STRING or set AzureWebJobsStorage", none.Err);
        Assert.Equal(2, malformed.Code);
        Assert.Contains("--connection is not a storage connection string", malformed.Err);
        Assert.DoesNotContain($"inbox-{partner}", await ContainersAsync());
    }

    [Fact]
    public async Task Help_and_usage_errors()
    {
        var help = await RunAsync(null, "--help");
        var unknown = await RunAsync(null, "add", "--partner", "acme", "--contrac", "x.json");
        var missing = await RunAsync(null, "add", "--contract", "x.json");

        Assert.Equal(0, help.Code);
        Assert.Contains("partner add --partner NAME --contract CONTRACT.json [--connection STRING] [--expires 7d|HOURS] [--json]", help.Out);
        Assert.Contains("no read, list or delete", help.Out);
        Assert.Equal(2, unknown.Code);
        Assert.Contains("unknown option '--contrac'", unknown.Err);
        Assert.Equal(2, missing.Code);
        Assert.Contains("needs --partner NAME", missing.Err);
    }

    [Fact]
    public async Task The_finserverless_command_runs_the_verb_with_the_AzureWebJobsStorage_setting_and_lists_it_in_its_usage()
    {
        var partner = NewPartner("proc");
        var usage = await RunCliAsync(null, "--help");
        var added = await RunCliAsync(azurite.ConnectionString, "partner", "add", "--partner", partner, "--contract", WriteContract(partner), "--json");

        Assert.Equal(0, usage.Code);
        Assert.Contains("partner add --partner NAME", usage.Out);
        Assert.True(added.Code == 0, added.Err);
        Assert.DoesNotContain(AzuriteServer.AccountKey, added.Out + added.Err);
        var sasUrl = new Uri(JsonNode.Parse(added.Out)!["sasUrl"]!.GetValue<string>());
        await new BlobContainerClient(sasUrl).GetBlobClient($"{Dataset}/from-cli.csv").UploadAsync(new BinaryData("id\n1\n"u8.ToArray()), overwrite: true);
        Assert.True(await azurite.Blobs.GetBlobContainerClient($"inbox-{partner}").GetBlobClient($"{Dataset}/from-cli.csv").ExistsAsync());
    }

    private static async Task<(int Code, string Out, string Err)> RunCliAsync(string? connection, params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "finserverless.dll"));
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment.Remove("AzureWebJobsStorage");
        if (connection is not null)
        {
            psi.Environment["AzureWebJobsStorage"] = connection;
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(2));
        return (process.ExitCode, await stdout, await stderr);
    }
}
