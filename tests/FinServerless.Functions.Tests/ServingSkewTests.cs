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
    [Fact]
    public async Task Rows_score_the_same_over_http_as_after_ingest_and_values_ingest_refuses_are_a_400_naming_the_column()
    {
        var sample = Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit");
        var contracts = azurite.Blobs.GetBlobContainerClient("contracts");
        await contracts.CreateIfNotExistsAsync();
        await contracts.GetBlobClient("skew/taiwan-credit.json").UploadAsync(new BinaryData((await File.ReadAllTextAsync(Path.Combine(sample, "contract.json"))).Replace("\"partner\": \"demo\"", "\"partner\": \"skew\"", StringComparison.Ordinal)), overwrite: true);

        // 3,000 rows; the contract's missing tokens in two of them (NA, NULL), which ingest reads as missing.
        var lines = File.ReadLines(Path.Combine(sample, "UCI_Credit_Card.csv")).Take(3001).ToList();
        lines[3] = Replace(lines[3], 12, "NA");
        lines[5] = Replace(lines[5], 18, "NULL");
        var inbox = azurite.Blobs.GetBlobContainerClient("inbox-skew");
        await inbox.CreateIfNotExistsAsync();
        await inbox.GetBlobClient("taiwan-credit/book.csv").UploadAsync(new BinaryData(string.Join('\n', lines) + "\n"), overwrite: true);

        await using var host = await AppHost.StartAsync(AppLayout.Settings(azurite.ConnectionString), _ => { });
        using var http = new HttpClient { BaseAddress = host.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        await Poll.UntilAsync(async () => (await http.GetFromJsonAsync<JsonObject>("api/runs/skew/taiwan-credit"))?["runs"]?.AsArray().Count > 0 ? [] : null, TimeSpan.FromMinutes(2), "the curated run");
        using var start = await HttpClientJsonExtensions.PostAsJsonAsync(http, "api/training", new { partner = "skew", dataset = "taiwan-credit", trainer = "xgboost", model = "skew-model", @params = new { num_boost_round = 40 } });
        var statusUri = (await start.Content.ReadFromJsonAsync<JsonObject>())!["statusQueryGetUri"]!.GetValue<string>();
        var trained = await Poll.UntilAsync(async () => await http.GetFromJsonAsync<JsonObject>(statusUri) is { } s && s["runtimeStatus"]?.ToString() is "Completed" or "Failed" ? s : null, TimeSpan.FromMinutes(4), "TrainModel");
        Assert.True(trained["runtimeStatus"]!.ToString() == "Completed", trained.ToJsonString());

        // Batch: a score job over the curated run.
        using var submitted = await HttpClientJsonExtensions.PostAsJsonAsync(http, "api/score-jobs", new { model = "skew-model@champion", partner = "skew", dataset = "taiwan-credit" });
        Assert.Equal(HttpStatusCode.Accepted, submitted.StatusCode);
        var jobId = (await submitted.Content.ReadFromJsonAsync<JsonObject>())!["jobId"]!.GetValue<string>();
        var job = await Poll.UntilAsync(async () => await http.GetFromJsonAsync<JsonObject>($"api/score-jobs/{jobId}") is { } j && j["state"]?.ToString() is "succeeded" or "failed" ? j : null, TimeSpan.FromMinutes(2), "the score job");
        Assert.True(job["state"]!.ToString() == "succeeded", job.ToJsonString());
        var batch = new Dictionary<string, double>();
        await foreach (var blob in azurite.Blobs.GetBlobContainerClient("scores").GetBlobsAsync(BlobTraits.None, BlobStates.None, "skew/taiwan-credit/", default))
        {
            if (blob.Name.EndsWith(".csv", StringComparison.Ordinal))
            {
                var text = (await azurite.Blobs.GetBlobContainerClient("scores").GetBlobClient(blob.Name).DownloadContentAsync()).Value.Content.ToString();
                foreach (var row in text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1).Select(l => l.Split(',')))
                {
                    batch[row[0]] = double.Parse(row[1], CultureInfo.InvariantCulture);
                }
            }
        }

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
        Assert.DoesNotContain("157", message, StringComparison.Ordinal);
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
