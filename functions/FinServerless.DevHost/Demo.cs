using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using FinServerless.Azurite;
using FinServerless.Native;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using FinServerless.Connections;
using FinServerless.Contracts;
using FinServerless.IsolatedHost;
using Microsoft.Extensions.Logging;

namespace FinServerless.DevHost;

/// <summary>
/// The end-to-end demo, through the dev host exactly as a user drives the app: a real Azurite; the Taiwan
/// sample dropped into <c>inbox-demo</c> with its contract; ingest from the BlobCreated event; training started
/// over HTTP (TrainModel dispatches the trainer as a local process, watches it with durable timers, evaluates and
/// promotes); NightlyRescore fired through the admin endpoint; the committed score run checked against the
/// curated rows. Outputs are copied to .demo/output for inspection.
/// </summary>
public static class Demo
{
    private const string Partner = "demo";
    private const string Dataset = "taiwan-credit";

    /// <summary>What the demo found (also used by the end-to-end test).</summary>
    public sealed record Summary(long Curated, long Quarantined, string Model, double Auc, string? Champion, long Scored, string ScoreManifest, string RescoreSummary, string OutputFolder);

    /// <summary>Runs the demo; returns its summary.</summary>
    public static async Task<Summary> RunAsync(string? samplePath, string? appRoot, string workFolder, string trainer, TextWriter output, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        void Step(string text) => output.WriteLine($"[{clock.Elapsed.TotalSeconds,6:0.0}s] {text}");
        samplePath ??= Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "UCI_Credit_Card.csv");
        appRoot ??= Path.Combine(RepositoryLayout.Root, "functions", "FinServerless.Functions", "bin", "Release", "net10.0");
        if (!File.Exists(samplePath))
        {
            throw new InvalidOperationException($"Sample file '{samplePath}' does not exist; pass --sample PATH to a CSV file.");
        }

        if (Directory.Exists(workFolder))
        {
            Directory.Delete(workFolder, recursive: true);
        }

        Step("starting Azurite (a real one, on free ports)");
        await using var azurite = await AzuriteServer.StartAsync(new AzuriteOptions { Location = Path.Combine(workFolder, "azurite") }, cancellationToken);
        var settings = new Dictionary<string, string>(LocalSettings.Load(Path.Combine(RepositoryLayout.Root, "local.settings.json")))
        {
            ["AzureWebJobsStorage"] = azurite.ConnectionString,
            ["FINSERVERLESS_TRAINING_POLL_SECONDS"] = "1",
        };
        settings.TryAdd("FINSERVERLESS_RESCORE_SCHEDULE", "0 0 2 * * *");
        await using var hostLog = new StreamWriter(Path.Combine(workFolder, "devhost.log")) { AutoFlush = true };
        Step($"starting the dev host (WebJobs SDK + the real extensions) on the isolated function app in {Path.GetRelativePath(RepositoryLayout.Root, appRoot)} (log: {Path.GetRelativePath(RepositoryLayout.Root, Path.Combine(workFolder, "devhost.log"))})");
        var settingsPath = LocalSettings.Write(Path.Combine(workFolder, "local.settings.json"), settings);
        await using var host = await IsolatedFunctionsHost.StartAsync(LocalSettings.HostOptions(appRoot, settingsPath) with
        {
            Port = 0,
            Logging = b => b.AddProvider(new LineLoggerProvider(line =>
            {
                lock (hostLog)
                {
                    hostLog.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {line}");
                }
            })),
        }, cancellationToken);
        using var http = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromMinutes(5) };
        Step($"dev host up at {host.BaseAddress}");

        var blobs = StorageConnection.FromConnectionString(azurite.ConnectionString).CreateBlobServiceClient();
        var contracts = blobs.GetBlobContainerClient(StorageLayout.ContractsContainer);
        await contracts.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        var drop = new InboxFile(StorageName.Partner(Partner), StorageName.Dataset(Dataset), StorageName.File(Path.GetFileName(samplePath), "the sample file's name"));
        await contracts.GetBlobClient(StorageLayout.Contract(drop.Partner, drop.Dataset)[(StorageLayout.ContractsContainer.Length + 1)..]).UploadAsync(new BinaryData(await File.ReadAllBytesAsync(Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "contract.json"), cancellationToken)), new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "application/json" } }, cancellationToken);
        var inbox = blobs.GetBlobContainerClient(drop.Container);
        await inbox.CreateIfNotExistsAsync(cancellationToken: cancellationToken);
        await using (var file = File.OpenRead(samplePath))
        {
            await inbox.GetBlobClient(drop.BlobName).UploadAsync(file, new BlobUploadOptions { HttpHeaders = new BlobHttpHeaders { ContentType = "text/csv" }, TransferOptions = new Azure.Storage.StorageTransferOptions { InitialTransferSize = 8 << 20, MaximumTransferSize = 8 << 20, MaximumConcurrency = 4 } }, cancellationToken);
        }

        Step($"dropped {Path.GetFileName(samplePath)} ({new FileInfo(samplePath).Length:N0} bytes) into inbox-{Partner}/{Dataset}/ with its contract");

        var runs = await PollAsync(async () =>
        {
            var r = await http.GetFromJsonAsync<JsonObject>($"api/runs/{Partner}/{Dataset}", cancellationToken);
            return r?["runs"]?.AsArray().Count > 0 ? r : null;
        }, TimeSpan.FromMinutes(3), "the curated run (ingest)", cancellationToken);
        var run = runs["runs"]![0]!;
        long curated = run["rows"]!["accepted"]!.GetValue<long>(), quarantined = run["rows"]!["rejected"]!.GetValue<long>();
        Step($"ingested from the BlobCreated event: {curated:N0} rows curated, {quarantined:N0} quarantined → {run["manifest"]}");

        using var start = await HttpClientJsonExtensions.PostAsJsonAsync(http, "api/training", new { partner = Partner, dataset = Dataset, trainer }, cancellationToken);
        var started = await start.Content.ReadFromJsonAsync<JsonObject>(cancellationToken);
        if ((int)start.StatusCode != 202 || started?["statusQueryGetUri"] is null)
        {
            throw new InvalidOperationException($"POST /api/training answered {(int)start.StatusCode}: {started?.ToJsonString()}");
        }

        Step($"training started over HTTP: TrainModel instance {started["id"]}");
        var lastProgress = string.Empty;
        var training = await PollAsync(async () =>
        {
            var s = await http.GetFromJsonAsync<JsonObject>(started["statusQueryGetUri"]!.GetValue<string>(), cancellationToken);
            var progress = s?["customStatus"]?["progress"]?.ToString() ?? s?["customStatus"]?["phase"]?.ToString();
            if (progress is not null && progress != lastProgress)
            {
                lastProgress = progress;
                Step($"  TrainModel: {progress}");
            }

            return s?["runtimeStatus"]?.ToString() is "Completed" or "Failed" or "Terminated" ? s : null;
        }, TimeSpan.FromMinutes(10), "TrainModel", cancellationToken);
        if (training["runtimeStatus"]!.ToString() != "Completed")
        {
            throw new InvalidOperationException($"TrainModel ended {training["runtimeStatus"]}: {training["output"]}");
        }

        var decision = training["output"]!["decision"]!;
        var modelId = training["output"]!["model"]!.ToString();
        var model = modelId[..modelId.IndexOf('@')];
        Step($"trained {modelId}: AUC {decision["candidateAuc"]!.GetValue<double>():0.0000} on held-out rows; {decision["reason"]}");
        var version = modelId[(modelId.IndexOf('@') + 1)..];
        var metrics = JsonNode.Parse((await blobs.GetBlobContainerClient(StorageLayout.ModelsContainer).GetBlobClient(StorageLayout.ModelFile(ModelReference.Parse(modelId), ModelFiles.Manifest)[(StorageLayout.ModelsContainer.Length + 1)..]).DownloadContentAsync(cancellationToken)).Value.Content.ToMemory().Span)!["metrics"]!;
        var calibration = $"mean PD {metrics["mean_pd"]!.GetValue<double>():0.0000} vs observed {metrics["observed_rate"]!.GetValue<double>():0.0000}, ECE {metrics["ece"]!.GetValue<double>():0.0000}, Brier {metrics["brier"]!.GetValue<double>():0.0000}";
        Step($"calibrated on held-out rows: {calibration}");
        var models = await http.GetFromJsonAsync<JsonObject>($"api/models/{model}", cancellationToken);
        var champion = models?["models"]?[0]?["champion"]?["version"]?.ToString();
        Step($"champion of {model}: {champion ?? "(none)"}");

        using (var fire = await HttpClientJsonExtensions.PostAsJsonAsync(http, "admin/functions/NightlyRescore", new { input = string.Empty }, cancellationToken))
        {
            fire.EnsureSuccessStatusCode();
        }

        Step("fired NightlyRescore through /admin/functions/NightlyRescore");
        var rescore = await PollAsync(async () =>
        {
            var list = await http.GetFromJsonAsync<JsonArray>("runtime/webhooks/durabletask/instances", cancellationToken);
            return list?.FirstOrDefault(i => i?["name"]?.ToString() == "RescorePortfolio" && i["runtimeStatus"]?.ToString() is "Completed" or "Failed") as JsonObject;
        }, TimeSpan.FromMinutes(5), "RescorePortfolio", cancellationToken);
        if (rescore["runtimeStatus"]!.ToString() != "Completed")
        {
            throw new InvalidOperationException($"RescorePortfolio ended {rescore["runtimeStatus"]}: {rescore["output"]}");
        }

        var summaryPath = rescore["output"]!["summary"]!.ToString();
        var summary = JsonNode.Parse((await blobs.GetBlobContainerClient(StorageLayout.ScoresContainer).GetBlobClient(summaryPath[(StorageLayout.ScoresContainer.Length + 1)..]).DownloadContentAsync(cancellationToken)).Value.Content.ToMemory().Span)!;
        var scoredRun = summary["runs"]!.AsArray().First(r => r!["dataset"]!.ToString() == Dataset)!;
        var scored = scoredRun["rows"]!.GetValue<long>();
        var scoreManifest = scoredRun["scoreManifest"]!.ToString();
        Step($"RescorePortfolio committed {scoreManifest}: {scored:N0} rows scored; drift vs the training profile: {scoredRun["worstDrift"]}");
        if (scored != curated)
        {
            throw new InvalidOperationException($"The score run has {scored:N0} rows but the curated run has {curated:N0}.");
        }

        var outputFolder = Path.Combine(workFolder, "output");
        foreach (var (container, prefix) in new[] { ("curated", $"{Partner}/{Dataset}/"), ("quarantine", $"{Partner}/{Dataset}/"), ("models", $"{model}/"), ("scores", string.Empty) })
        {
            if (!await blobs.GetBlobContainerClient(container).ExistsAsync(cancellationToken))
            {
                continue;
            }

            await foreach (var blob in blobs.GetBlobContainerClient(container).GetBlobsAsync(BlobTraits.None, BlobStates.None, prefix, cancellationToken))
            {
                var target = Path.Combine(outputFolder, container, blob.Name);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                await File.WriteAllBytesAsync(target, (await blobs.GetBlobContainerClient(container).GetBlobClient(blob.Name).DownloadContentAsync(cancellationToken)).Value.Content.ToArray(), cancellationToken);
            }
        }

        var result = new Summary(curated, quarantined, modelId, decision["candidateAuc"]!.GetValue<double>(), champion, scored, scoreManifest, summaryPath, outputFolder);
        output.WriteLine();
        output.WriteLine("Demo summary");
        output.WriteLine($"  partner file     inbox-{Partner}/{Dataset}/{Path.GetFileName(samplePath)}");
        output.WriteLine($"  rows             {curated:N0} curated, {quarantined:N0} quarantined   ({run["manifest"]})");
        output.WriteLine($"  model            {modelId} ({trainer}), held-out AUC {result.Auc:0.0000}, report models/{model}/{version}/report.html");
        output.WriteLine($"  calibration      {calibration} (held-out rows)");
        output.WriteLine($"  champion         {model}@{champion}");
        output.WriteLine($"  rows scored      {scored:N0}   ({scoreManifest})");
        var grades = scoredRun["bands"]!.AsObject().Select(g => (Grade: g.Key, Rows: g.Value!.GetValue<long>())).ToList();
        output.WriteLine($"  grades           {string.Join("  ", grades.Select(g => $"{g.Grade}: {g.Rows:N0} ({g.Rows / (double)Math.Max(1, scored):0.0%})"))}   (master scale on calibrated PD)");
        output.WriteLine($"  rescore summary  {summaryPath}");
        output.WriteLine($"  outputs copied   {Path.GetRelativePath(RepositoryLayout.Root, outputFolder)}/ (curated, quarantine, models, scores)");
        output.WriteLine($"  elapsed          {clock.Elapsed.TotalSeconds:0.0} s");
        return result;
    }

    private static async Task<JsonObject> PollAsync(Func<Task<JsonObject?>> probe, TimeSpan timeout, string what, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await probe() is { } found)
            {
                return found;
            }

            await Task.Delay(500, cancellationToken);
        }

        throw new TimeoutException($"Waited {timeout.TotalMinutes:0.#} min for {what}; see the dev host log for the invocations.");
    }
}
