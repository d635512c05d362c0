using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Azure.Storage.Blobs.Models;
using FinServerless.Native;
using FinServerless.Testing;

namespace FinServerless.Functions.Tests;

/// <summary>
/// ScoreBatch normalizes rows by the contract the model was trained under, as ingest does: the same applicant gets
/// the same probability over HTTP as in a score job over the curated run, and a value ingest would quarantine is a 400.
/// </summary>
public sealed class ServingSkewTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>
{
    /// <summary>
    /// Curates <paramref name="lines"/> for <paramref name="partner"/>, trains <paramref name="trainer"/> through
    /// TrainModel, scores the run with a score job, and returns the host and each batch score row by id.
    /// </summary>
    private async Task<(FinServerless.IsolatedHost.IsolatedFunctionsHost Host, HttpClient Http, Dictionary<string, string[]> Batch)> TrainAndScoreAsync(string partner, string trainer, List<string> lines, object parameters)
    {
        var sample = Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit");
        var contracts = azurite.Blobs.GetBlobContainerClient("contracts");
        await contracts.CreateIfNotExistsAsync();
        await contracts.GetBlobClient($"{partner}/taiwan-credit.json").UploadAsync(new BinaryData((await File.ReadAllTextAsync(Path.Combine(sample, "contract.json"))).Replace("\"partner\": \"demo\"", $"\"partner\": \"{partner}\"", StringComparison.Ordinal)), overwrite: true);
        var inbox = azurite.Blobs.GetBlobContainerClient($"inbox-{partner}");
        await inbox.CreateIfNotExistsAsync();
        await inbox.GetBlobClient("taiwan-credit/book.csv").UploadAsync(new BinaryData(string.Join('\n', lines) + "\n"), overwrite: true);

        var host = await AppHost.StartAsync(AppLayout.Settings(azurite.ConnectionString), _ => { });
        var http = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        await Poll.UntilAsync(async () => (await http.GetFromJsonAsync<JsonObject>($"api/runs/{partner}/taiwan-credit"))?["runs"]?.AsArray().Count > 0 ? [] : null, TimeSpan.FromMinutes(2), "the curated run");
        using var start = await HttpClientJsonExtensions.PostAsJsonAsync(http, "api/training", new { partner, dataset = "taiwan-credit", trainer, model = $"{partner}-model", @params = parameters });
        var statusUri = (await start.Content.ReadFromJsonAsync<JsonObject>())!["statusQueryGetUri"]!.GetValue<string>();
        var trained = await Poll.UntilAsync(async () => await http.GetFromJsonAsync<JsonObject>(statusUri) is { } s && s["runtimeStatus"]?.ToString() is "Completed" or "Failed" ? s : null, TimeSpan.FromMinutes(4), "TrainModel");
        Assert.True(trained["runtimeStatus"]!.ToString() == "Completed", trained.ToJsonString());

        // Batch: a score job over the curated run.
        using var submitted = await HttpClientJsonExtensions.PostAsJsonAsync(http, "api/score-jobs", new { model = $"{partner}-model@champion", partner, dataset = "taiwan-credit" });
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        var jobId = (await submitted.Content.ReadFromJsonAsync<JsonObject>())!["jobId"]!.GetValue<string>();
        var job = await Poll.UntilAsync(async () => await http.GetFromJsonAsync<JsonObject>($"api/score-jobs/{jobId}") is { } j && j["state"]?.ToString() is "succeeded" or "failed" ? j : null, TimeSpan.FromMinutes(2), "the score job");
        Assert.True(job["state"]!.ToString() == "succeeded", job.ToJsonString());
        var batch = new Dictionary<string, string[]>();
        await foreach (var blob in azurite.Blobs.GetBlobContainerClient("scores").GetBlobsAsync(BlobTraits.None, BlobStates.None, $"{partner}/taiwan-credit/", default))
        {
            if (blob.Name.EndsWith(".csv", StringComparison.Ordinal))
            {
                var text = (await azurite.Blobs.GetBlobContainerClient("scores").GetBlobClient(blob.Name).DownloadContentAsync()).Value.Content.ToString();
                foreach (var row in text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.Split(',')))
                {
                    batch[row[0]] = row;
                }
            }
        }

        return (host, http, batch);
    }

    [Fact]
    public async Task Rows_score_the_same_over_http_as_after_ingest_and_values_ingest_refuses_are_a_400_naming_the_column()
    {
        // 3,000 rows; the contract's missing tokens in two of them (NA, NULL), which ingest reads as missing.
        var lines = File.ReadLines(Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "UCI_Credit_Card.csv")).Take(3001).ToList();
        lines[3] = Replace(lines[3], 12, "NA");
        lines[5] = Replace(lines[5], 18, "NULL");
        var (host, http, scores) = await TrainAndScoreAsync("skew", "xgboost", lines, new { num_boost_round = 40 });
        await using var _ = host;
        using var __ = http;
        var batch = scores.ToDictionary(kv => kv.Key, kv => double.Parse(kv.Value[1], CultureInfo.InvariantCulture));
        Assert.Equal(3000, batch.Count);

        // HTTP: the same raw lines, missing tokens included, as a CSV body.
        using var online = await http.PostAsync("api/score?model=skew-model@champion", new StringContent(string.Join('\n', lines.Take(11)) + "\n", Encoding.UTF8, "text/csv"));
        var body = await online.Content.ReadAsStringAsync();
        Assert.True(online.StatusCode == HttpStatusCode.OK, body);
        var scored = JsonNode.Parse(body)!;
        Assert.Equal("contracts/skew/taiwan-credit.json", scored["contract"]!.GetValue<string>());
        foreach (var row in scored["rows"]!.AsArray())
        {
            var id = row!["ID"]!.GetValue<string>();
            Assert.Equal(Math.Round(batch[id], 6), row["probability_of_default"]!.GetValue<double>(), 6);
        }

        // A value ingest quarantines (AGE above the contract's maximum) is refused, naming row, column and rule, not the value.
        using var refused = await HttpClientJsonExtensions.PostAsJsonAsync(http, "api/score", new
        {
            model = "skew-model@champion",
            rows = new[] { Row(lines, 1, 5, "34"), Row(lines, 2, 5, "157") },
        });
        var error = await refused.Content.ReadAsStringAsync();
        var message = JsonNode.Parse(error)!["error"]!["message"]!.GetValue<string>();
        Assert.True(refused.StatusCode == HttpStatusCode.BadRequest, error);
        Assert.True(error.Contains("RowRejected", StringComparison.Ordinal), error);
        Assert.Contains("row 2, column 'AGE': max", message, StringComparison.Ordinal);
        Assert.Contains("contracts/skew/taiwan-credit.json", message, StringComparison.Ordinal);
        // The model's version is a timestamp that may itself hold the digits: only the rest of the message is checked.
        Assert.DoesNotContain("157", System.Text.RegularExpressions.Regex.Replace(message, "skew-model@[^ ]+", "skew-model@…"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_scorecards_reasons_over_http_are_the_reasons_its_score_files_carry()
    {
        var lines = File.ReadLines(Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "UCI_Credit_Card.csv")).Take(3001).ToList();
        var (host, http, batch) = await TrainAndScoreAsync("skewcard", "scorecard", lines, new { max_bins = 8 });
        await using var _ = host;
        using var __ = http;

        using var online = await http.PostAsync("api/score?model=skewcard-model@champion", new StringContent(string.Join('\n', lines.Take(21)) + "\n", Encoding.UTF8, "text/csv"));
        var body = await online.Content.ReadAsStringAsync();
        Assert.True(online.StatusCode == HttpStatusCode.OK, body);
        var withReasons = 0;
        foreach (var row in JsonNode.Parse(body)!["rows"]!.AsArray())
        {
            var scored = batch[row!["ID"]!.GetValue<string>()];
            var reasons = row["reasons"]!.AsArray();
            for (var k = 0; k < 4; k++)
            {
                var (feature, points) = (scored[4 + (2 * k)], scored[5 + (2 * k)]);
                if (feature.Length == 0)
                {
                    Assert.True(reasons.Count <= k, $"HTTP gives more reasons than the score file for {row["ID"]}");
                    break;
                }

                Assert.Equal(feature, reasons[k]!["feature"]!.GetValue<string>());
                Assert.Equal(double.Parse(points, CultureInfo.InvariantCulture), reasons[k]!["pointsLost"]!.GetValue<double>(), 2);
                // The contract's adverse-action text comes with each reason; protected characteristics are never one.
                Assert.NotEqual("AGE", feature);
                Assert.NotEqual("SEX", feature);
                if (feature.StartsWith("PAY_", StringComparison.Ordinal) && !feature.StartsWith("PAY_AMT", StringComparison.Ordinal))
                {
                    Assert.StartsWith("Repayment status in ", reasons[k]!["text"]!.GetValue<string>(), StringComparison.Ordinal);
                }
            }

            withReasons += reasons.Count > 0 ? 1 : 0;
        }

        Assert.True(withReasons >= 15, $"only {withReasons} of 20 rows had reasons");
    }

    private static string Replace(string line, int field, string value)
    {
        var fields = line.Split(',');
        fields[field] = value;
        return string.Join(',', fields);
    }

    /// <summary>Line <paramref name="index"/> of the sample as a JSON row (input names, as text), one field replaced.</summary>
    private static Dictionary<string, string> Row(List<string> lines, int index, int field, string value)
    {
        var header = lines[0].Split(',').Select(h => h.Trim('"')).ToArray();
        var fields = lines[index].Split(',');
        fields[field] = value;
        return header.Select((h, i) => (h, v: fields[i])).Where(p => p.h != "default.payment.next.month").ToDictionary(p => p.h, p => p.v);
    }
}
