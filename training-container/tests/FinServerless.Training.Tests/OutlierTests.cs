using FinServerless.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Scoring;
using FinServerless.Training.Data;
using FinServerless.Training.Trainers;

namespace FinServerless.Training.Tests;

/// <summary>The autoencoder outlier model on the Taiwan sample: real libtorch training, real ONNX Runtime scoring.</summary>
public sealed class OutlierTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("finserverless-outliers-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Fact]
    public async Task Corrupted_rows_score_above_the_training_99th_percentile_far_more_often_than_clean_rows()
    {
        var store = new FolderRunOutput(_folder.FullName);
        var run = await TrainingData.IngestAsync(store, TrainingData.TaiwanCsv, "taiwan-credit");
        var outcome = await OutlierJob.RunAsync(store, run, store, "taiwan-outliers", "v1", new TrainerSettings { Seed = 3 }, TrainingProgress.None);

        // Registered as an outlier model: its ONNX export scores as libtorch does, and its cut-off is recorded.
        var manifest = outcome.Manifest;
        Assert.Equal(AutoencoderTrainer.Name, manifest.Trainer);
        Assert.True(manifest.Metrics!["onnx_parity_max_rel_diff"] <= 1e-5);
        var threshold = manifest.Outlier!.Threshold;
        Assert.Equal(manifest.Outlier.Quantiles["p99"], threshold);
        Assert.True(manifest.Outlier.Quantiles["p50"] < threshold);

        // Scored through the model store and ONNX Runtime, as every scoring path loads it.
        using var loaded = await new ModelStore(store).LoadAsync(ModelReference.Parse("taiwan-outliers@v1"));
        var heldOut = outcome.HeldOut;
        var clean = loaded.Predict(heldOut.ScoringInput(loaded.Manifest.Features), heldOut.Rows);
        Assert.All(clean.Zip(outcome.HeldOutScores), p => Assert.Equal(p.Second, p.First, Math.Max(1e-5, Math.Abs(p.Second) * 1e-5)));

        // The same rows with the errors a partner file carries, one per row: amounts in cents, a lost delimiter shifting
        // the values, one month's status keyed as eight months behind.
        var (corrupted, kinds) = Corrupt(heldOut, seed: 11);
        var scores = loaded.Predict(corrupted.ScoringInput(loaded.Manifest.Features), corrupted.Rows);
        double Above(IEnumerable<float> values) => values.Count(s => s > threshold) / (double)values.Count();
        var cleanShare = Above(clean);
        var corruptedShare = Above(scores);
        var byKind = Enumerable.Range(0, 3).Select(k => Above(scores.Where((_, r) => kinds[r] == k))).ToArray();
        Assert.True(cleanShare < 0.03, $"{cleanShare:P1} of clean held-out rows are above the 99th percentile");
        Assert.True(corruptedShare > 0.5, $"only {corruptedShare:P1} of corrupted rows are above the 99th percentile");
        Assert.True(corruptedShare > 10 * cleanShare, $"corrupted {corruptedShare:P1} against clean {cleanShare:P1}");
        Assert.True(byKind[0] > 0.9 && byKind[1] > 0.9, $"amounts in cents {byKind[0]:P1}, shifted values {byKind[1]:P1}");

        // A lone status error is subtle beside the amounts' heavy tails: flagged more often than clean rows, far from always.
        Assert.True(byKind[2] > cleanShare, $"one status out of line {byKind[2]:P1} against clean {cleanShare:P1}");

        // Per file: the run it was trained on has about 1% of its rows above the cut-off; a file whose bill amounts
        // came in cents, curated by the same contract, has most of them.
        var runManifest = System.Text.Json.JsonSerializer.Deserialize<RunManifest>((await store.ReadAsync(run, default))!, RunManifest.JsonOptions)!;
        var own = await OutlierShare.ComputeAsync(runManifest, store, loaded);
        Assert.Equal(30_000, own.Rows);
        Assert.InRange(own.Share, 0.005, 0.03);
        Assert.Equal(own.Above, own.AbovePerPart.Sum());

        var lines = File.ReadLines(TrainingData.TaiwanCsv).Take(2_001).ToList();
        var header = lines[0].Replace("\"", string.Empty, StringComparison.Ordinal).Split(',');
        var bills = Enumerable.Range(0, header.Length).Where(i => header[i].StartsWith("BILL_AMT", StringComparison.Ordinal)).ToArray();
        var cents = lines.Skip(1).Select(l => l.Split(',')).Select(c => string.Join(',', c.Select((v, i) => bills.Contains(i) ? (double.Parse(v, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture) * 100).ToString("0.##", System.Globalization.CultureInfo.InvariantCulture) : v)));
        var file = TrainingData.WriteCsv(_folder.FullName, lines[0], cents);
        var shifted = await TrainingData.IngestAsync(store, file, "taiwan-credit", runId: "in-cents");
        var changed = await OutlierShare.ComputeAsync(System.Text.Json.JsonSerializer.Deserialize<RunManifest>((await store.ReadAsync(shifted, default))!, RunManifest.JsonOptions)!, store, loaded);
        Assert.Equal(2_000, changed.Rows);
        Assert.True(changed.Share > 0.5, $"only {changed.Share:P1} of a file in cents is above the cut-off");
    }

    private static (TrainingTable Table, int[] Kinds) Corrupt(TrainingTable table, int seed)
    {
        var kinds = new int[table.Rows];
        var random = new Random(seed);
        var names = table.Features.ToList();
        var amounts = names.Select((n, j) => (n, j)).Where(p => p.n.StartsWith("BILL_AMT", StringComparison.Ordinal) || p.n.StartsWith("PAY_AMT", StringComparison.Ordinal) || p.n == "LIMIT_BAL").Select(p => p.j).ToArray();
        var statuses = names.Select((n, j) => (n, j)).Where(p => p.n.StartsWith("PAY_", StringComparison.Ordinal) && !p.n.StartsWith("PAY_AMT", StringComparison.Ordinal)).Select(p => p.j).ToArray();
        var x = (float[])table.X.Clone();
        var f = table.Columns;
        for (var r = 0; r < table.Rows; r++)
        {
            var row = x.AsSpan(r * f, f);
            var kind = random.Next(3);
            kinds[r] = kind;
            switch (kind)
            {
                case 0:
                    // Amounts sent in cents, not in dollars.
                    foreach (var j in amounts.Where(_ => random.Next(2) == 0))
                    {
                        row[j] = (Math.Abs(row[j]) < 1_000 ? 5_000 : row[j]) * 100;
                    }

                    break;
                case 1:
                    // A lost delimiter: every value from the limit on shifted one column to the left.
                    row[1..].CopyTo(row);
                    break;
                default:
                    // One month's repayment status keyed as eight months behind, whatever the months around it say.
                    row[statuses[random.Next(statuses.Length)]] = 8;
                    break;
            }
        }

        return (new TrainingTable(table.Features, x, table.Y, table.Source, table.Details, table.Categories), kinds);
    }
}
