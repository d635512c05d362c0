using System.Globalization;
using System.Text.Json;
using FinServerless.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Scoring;
using FinServerless.Training.Trainers;

namespace FinServerless.Training.Tests;

/// <summary>Reason codes on every scored row of a scorecard: the points each characteristic lost against its maximum.</summary>
public sealed class ReasonCodeTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("finserverless-reasons-");

    public void Dispose() => _folder.Delete(recursive: true);

    [Fact]
    public async Task A_scorecards_reasons_are_its_points_table_and_every_scored_row_carries_the_largest_losses()
    {
        var store = new FolderRunOutput(_folder.FullName);
        var run = await TrainingData.IngestAsync(store, TrainingData.TaiwanCsv, "taiwan-credit");
        await TrainingJob.RunAsync(store, run, store, new TrainingRequest { Trainer = "scorecard", ModelName = "card", Version = "v1", Settings = new TrainerSettings { Seed = 5 } }, TrainingProgress.None);
        var manifest = await new ModelStore(store).ReadManifestAsync(ModelReference.Parse("card@v1"));

        // The manifest's characteristics are the published points table (scorecard.json rounds to 0.1 points).
        Assert.Equal("scorecard-points", manifest.Reasons!.Method);
        using var table = JsonDocument.Parse((await store.ReadAsync("models/card/v1/scorecard.json", default))!);
        var published = table.RootElement.GetProperty("features").EnumerateArray().ToDictionary(f => f.GetProperty("feature").GetString()!, f => f.GetProperty("bins").EnumerateArray().Select(b => b.GetProperty("points").GetDouble()).ToArray());
        Assert.Equal(manifest.Features.Count, manifest.Reasons.Characteristics!.Count);
        foreach (var c in manifest.Reasons.Characteristics)
        {
            Assert.Equal(published[c.Feature].Length, c.Points.Length);
            Assert.All(published[c.Feature].Zip(c.Points), p => Assert.Equal(p.First, p.Second, 0.051));
        }

        // Scored rows: each reason is a characteristic with its points lost, largest first, recomputed here from the table.
        using var loaded = await new ModelStore(store).LoadAsync(ModelReference.Parse("card@v1"));
        var runManifest = JsonSerializer.Deserialize<RunManifest>((await store.ReadAsync(run, default))!, RunManifest.JsonOptions)!;
        var scored = await BatchScorer.ScoreRunAsync(runManifest, run, store, loaded);
        Assert.Equal(["ID", "probability_of_default", "grade", "model", "reason_1", "reason_1_points", "reason_2", "reason_2_points", "reason_3", "reason_3_points", "reason_4", "reason_4_points"], scored.Manifest.Columns);
        var curated = runManifest.Parts.SelectMany(p => File.ReadLines(Path.Combine(store.Root, p.Path))).ToList();
        var header = curated[0].Split(',');
        var rows = curated.Skip(1).Where(l => !l.StartsWith(header[0], StringComparison.Ordinal)).Select(l => l.Split(',')).ToDictionary(c => c[0]);
        var checkedRows = 0;
        foreach (var line in File.ReadLines(Path.Combine(store.Root, scored.Manifest.Parts[0].Path)).Skip(1).Take(500))
        {
            var cells = line.Split(',');
            var row = rows[cells[0]];
            var expected = manifest.Reasons.Characteristics
                .Where(c => !Protected.Contains(c.Feature))
                .Select(c =>
                {
                    var text = row[Array.IndexOf(header, c.Feature)];
                    var value = text.Length == 0 ? (manifest.Features.First(f => f.Name == c.Feature).Impute is { } v ? (float)v : float.NaN) : float.Parse(text, CultureInfo.InvariantCulture);
                    return (c.Feature, Lost: published[c.Feature].Max() - published[c.Feature][c.BinOf(value)]);
                })
                .Where(r => r.Lost > 0.05)
                .OrderByDescending(r => r.Lost)
                .ToList();
            Assert.False(string.IsNullOrEmpty(cells[4]) && expected.Count > 0, $"row {cells[0]} has no reason but loses points on {expected.FirstOrDefault().Feature}");
            Assert.DoesNotContain(Enumerable.Range(0, 4).Select(k => cells[4 + (2 * k)]), Protected.Contains);
            if (expected.Count == 0)
            {
                continue;
            }

            var lost = double.Parse(cells[5], CultureInfo.InvariantCulture);
            Assert.Equal(expected[0].Lost, lost, 0.11);
            Assert.True(lost >= double.Parse(cells[7].Length == 0 ? "0" : cells[7], CultureInfo.InvariantCulture), "reasons come largest first");
            Assert.Contains(cells[4], expected.Where(e => Math.Abs(e.Lost - expected[0].Lost) < 0.11).Select(e => e.Feature));
            checkedRows++;
        }

        Assert.True(checkedRows > 400, $"only {checkedRows} rows had reasons");

        // The reason-code table: the contract's texts for every feature that can be a reason; protected ones never can.
        Assert.Equal("Repayment status in September (months behind)", scored.Manifest.ReasonTexts!["PAY_0"]);
        Assert.Equal(Protected.Order(), scored.Manifest.NeverReasons!.Order());
        Assert.DoesNotContain(scored.Manifest.ReasonTexts.Keys, Protected.Contains);
    }

    /// <summary>The Taiwan contract's protected characteristics: they score, and are never a reason.</summary>
    private static readonly string[] Protected = ["SEX", "MARRIAGE", "AGE"];

    [Fact]
    public async Task An_xgboost_models_reasons_are_its_largest_positive_tree_shap_contributions_as_xgboost_computes_them()
    {
        var store = new FolderRunOutput(_folder.FullName);
        var run = await TrainingData.IngestAsync(store, TrainingData.TaiwanCsv, "taiwan-credit");
        await TrainingJob.RunAsync(store, run, store, new TrainingRequest { Trainer = "xgboost", ModelName = "trees", Version = "v1", Settings = new TrainerSettings { Parameters = new() { ["num_boost_round"] = 40 } } }, TrainingProgress.None);
        using var loaded = await new ModelStore(store).LoadAsync(ModelReference.Parse("trees@v1"));
        Assert.Equal(ReasonModel.TreeShap, loaded.Manifest.Reasons!.Method);
        Assert.NotNull(loaded.Shap);
        var runManifest = JsonSerializer.Deserialize<RunManifest>((await store.ReadAsync(run, default))!, RunManifest.JsonOptions)!;
        var scored = await BatchScorer.ScoreRunAsync(runManifest, run, store, loaded);
        Assert.Equal(["ID", "probability_of_default", "grade", "model", "reason_1", "reason_1_points", "reason_2", "reason_2_points", "reason_3", "reason_3_points", "reason_4", "reason_4_points"], scored.Manifest.Columns);

        // XGBoost's own pred_contribs on the same model input (curated values, empty = NaN as the manifest imputes) for 300 rows.
        var features = loaded.Manifest.Features.Select(f => f.Name).ToList();
        var curated = File.ReadLines(Path.Combine(store.Root, runManifest.Parts[0].Path)).ToList();
        var header = curated[0].Split(',');
        var byId = curated.Skip(1).Select(l => l.Split(',')).ToDictionary(c => c[0]);
        var lines = File.ReadLines(Path.Combine(store.Root, scored.Manifest.Parts[0].Path)).Skip(1).Take(300).Select(l => l.Split(',')).ToList();
        var x = lines.SelectMany(cells => features.Select(f => byId[cells[0]][Array.IndexOf(header, f)] is { Length: > 0 } t ? float.Parse(t, CultureInfo.InvariantCulture) : float.NaN)).ToArray();
        using var booster = XGBoost.Booster.Load((await store.ReadAsync("models/trees/v1/xgboost-model.json", default))!);
        using var matrix = new XGBoost.DMatrix(x, lines.Count, features.Count);
        var contribs = booster.PredictContributions(matrix);
        var withReasons = 0;
        for (var r = 0; r < lines.Count; r++)
        {
            var expected = Enumerable.Range(0, features.Count).Select(f => (Feature: features[f], Value: contribs[(r * (features.Count + 1)) + f]))
                .Where(c => c.Value > 0 && !Protected.Contains(c.Feature)).OrderByDescending(c => c.Value).Take(4).ToList();
            Assert.DoesNotContain(Enumerable.Range(0, 4).Select(k => lines[r][4 + (2 * k)]), Protected.Contains);
            for (var k = 0; k < 4; k++)
            {
                var name = lines[r][4 + (2 * k)];
                if (k >= expected.Count)
                {
                    Assert.Equal(string.Empty, name);
                    continue;
                }

                // Ties within rounding may swap places; the value at each rank must match.
                Assert.Equal(expected[k].Value, double.Parse(lines[r][5 + (2 * k)], CultureInfo.InvariantCulture), 0.00015);
                Assert.Contains(name, expected.Where(e => Math.Abs(e.Value - expected[k].Value) < 0.0002).Select(e => e.Feature));
            }

            withReasons += expected.Count > 0 ? 1 : 0;
        }

        Assert.True(withReasons > 250, $"only {withReasons} of {lines.Count} rows had a reason");

        // The test can fail: a protected characteristic does raise some of these rows' risk, so leaving the flag out would show it.
        Assert.Contains(Enumerable.Range(0, lines.Count), r => Protected.Any(p => contribs[(r * (features.Count + 1)) + features.IndexOf(p)] > 0));
    }
}
