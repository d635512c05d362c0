using FinServerless.Contracts;
using System.Text.Json;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Ingest;

namespace FinServerless.Datasets.Tests;

public sealed class IngestRealFilesTests : IDisposable
{
    private readonly string _out = Directory.CreateTempSubdirectory("fs-ingest-").FullName;

    public void Dispose() => Directory.Delete(_out, recursive: true);

    private async Task<IngestOutcome> IngestAsync(string file, DatasetContract contract, string runId = "r-test")
    {
        await using var input = File.OpenRead(file);
        return await IngestEngine.RunAsync(input, Path.GetFileName(file), contract, StorageName.Run(runId), new FolderRunOutput(_out));
    }

    [Fact]
    public async Task Taiwan_with_its_quoted_header_is_curated_whole_in_canonical_form()
    {
        var outcome = await IngestAsync(DatasetFiles.TaiwanCsv, DatasetFiles.TaiwanContract);

        Assert.Equal(IngestState.Curated, outcome.State);
        var manifest = outcome.Manifest!;
        Assert.Equal(new RowCounts(30_000, 30_000, 0), manifest.Rows);
        Assert.Equal("a0f0ab49d6326671d6cd83be5c88dcf18007025fe9a53ecd699119c871176ca1", manifest.Input.Sha256);
        Assert.Equal("default_next_month", manifest.Columns[^1]);
        var part = File.ReadLines(Path.Combine(_out, manifest.Parts[0].Path)).Take(2).ToList();
        Assert.StartsWith("ID,LIMIT_BAL,SEX,EDUCATION", part[0]);
        Assert.Equal("1,20000,2,2,1,24,2,2,-1,-1,-2,-2,3913,3102,689,0,0,0,0,689,0,0,0,0,1", part[1]);
        var target = manifest.Profile["default_next_month"]!;
        Assert.Equal(0.2212, target.Mean!.Value, 4);
        Assert.True(File.Exists(Path.Combine(_out, outcome.ManifestPath!)));
    }

    [Fact]
    public async Task Taiwan_against_the_documented_codes_quarantines_the_undocumented_ones_with_row_and_column()
    {
        var strict = DatasetFiles.TaiwanContract with
        {
            Columns = DatasetFiles.TaiwanContract.Columns.Select(c => c.Name switch
            {
                "EDUCATION" => c with { Allowed = ["1", "2", "3", "4"] },
                "MARRIAGE" => c with { Allowed = ["1", "2", "3"] },
                _ => c,
            }).ToList(),
        };

        var outcome = await IngestAsync(DatasetFiles.TaiwanCsv, strict);

        Assert.Equal(IngestState.Curated, outcome.State);
        var report = outcome.Report!;
        Assert.Equal(345, report.FailuresByColumn["EDUCATION"]);
        Assert.Equal(54, report.FailuresByColumn["MARRIAGE"]);
        Assert.Equal(30_000 - outcome.Manifest!.Rows.Accepted, outcome.Manifest.Rows.Rejected);
        Assert.InRange(report.SuccessPercent, 98, 99.9);
        var example = report.UnexpectedRows[0];
        Assert.True(example.Ids.ContainsKey("ID"));
        Assert.Contains("allowed", example.Failures[0]);
        var rejected = File.ReadAllLines(Path.Combine(_out, report.RejectedCsv!));
        Assert.Equal("row,line,column,rule,detail,value", rejected[0]);
        Assert.Contains(rejected, l => l.Contains(",EDUCATION,allowed,", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Give_Me_Some_Credit_maps_NA_sentinels_and_the_unnamed_id_and_rejects_the_age_zero_row()
    {
        var file = DatasetFiles.GmscTraining(out var reason);
        if (file is null)
        {
            Console.WriteLine($"skipped: {reason}");
            return;
        }

        var outcome = await IngestAsync(file, DatasetFiles.GmscContract);

        Assert.Equal(IngestState.Curated, outcome.State);
        var m = outcome.Manifest!;
        Assert.Equal(new RowCounts(150_000, 149_999, 1), m.Rows);
        Assert.Equal("id", m.Columns[0]);
        Assert.Equal(29_731, m.Profile["MonthlyIncome"]!.Nulls);
        Assert.Equal(3_924, m.Profile["NumberOfDependents"]!.Nulls);
        Assert.Equal(269, m.Profile["NumberOfTime30-59DaysPastDueNotWorse"]!.Nulls);
        Assert.True(m.Profile["NumberOfTimes90DaysLate"]!.Max <= 17);
        var failure = Assert.Single(outcome.Report!.UnexpectedRows);
        Assert.Contains("column 'age': min", failure.Failures[0]);
        Assert.Equal("65696", failure.Ids["id"]);
        Assert.Equal(1, outcome.Report.FailuresByRule["min"]);
    }

    [Fact]
    public async Task Drift_against_a_reference_profile_is_stable_for_the_same_data_and_flags_a_shifted_feature()
    {
        // The reference is a training run's profile, ingested elsewhere (same bytes here would be a duplicate).
        await using var training = File.OpenRead(DatasetFiles.TaiwanCsv);
        var first = await IngestEngine.RunAsync(training, "training.csv", DatasetFiles.TaiwanContract, StorageName.Run("r-reference"), new FolderRunOutput(Path.Combine(_out, "training")));
        var reference = (first.Manifest!.Profile, "reference");

        await using var same = File.OpenRead(DatasetFiles.TaiwanCsv);
        var again = await IngestEngine.RunAsync(same, "again.csv", DatasetFiles.TaiwanContract, StorageName.Run("r-again"), new FolderRunOutput(_out), new IngestOptions { Reference = reference });
        var shiftedCsv = Path.Combine(_out, "shifted.csv");
        var lines = File.ReadAllLines(DatasetFiles.TaiwanCsv);
        File.WriteAllLines(shiftedCsv, lines.Select((l, i) =>
        {
            if (i == 0)
            {
                return l;
            }

            var cells = l.Split(',');
            cells[1] = (double.Parse(cells[1], System.Globalization.CultureInfo.InvariantCulture) * 3).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return string.Join(',', cells);
        }));
        await using var shifted = File.OpenRead(shiftedCsv);
        var moved = await IngestEngine.RunAsync(shifted, "shifted.csv", DatasetFiles.TaiwanContract, StorageName.Run("r-shifted"), new FolderRunOutput(_out), new IngestOptions { Reference = reference });

        Assert.All(again.Manifest!.Drift!.Features, f => Assert.True(f.Psi < 0.01, $"{f.Column} PSI {f.Psi}"));
        var limit = moved.Manifest!.Drift!.Features.Single(f => f.Column == "LIMIT_BAL");
        Assert.Equal("significant", limit.Band);
        Assert.Equal("stable", moved.Manifest.Drift.Features.Single(f => f.Column == "AGE").Band);
    }

    [Fact]
    public async Task The_manifest_is_valid_JSON_naming_parts_with_their_SHA256()
    {
        var outcome = await IngestAsync(DatasetFiles.TaiwanCsv, DatasetFiles.TaiwanContract);
        using var doc = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(_out, outcome.ManifestPath!)));

        var part = doc.RootElement.GetProperty("parts")[0];
        var bytes = File.ReadAllBytes(Path.Combine(_out, part.GetProperty("path").GetString()!));
        Assert.Equal(Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)), part.GetProperty("sha256").GetString());
        Assert.Equal("1.1.0", doc.RootElement.GetProperty("contract").GetProperty("version").GetString());

        // What models carry on from the contract: reason texts and protected characteristics, per feature.
        var features = doc.RootElement.GetProperty("features").EnumerateArray().ToDictionary(f => f.GetProperty("name").GetString()!);
        Assert.Equal(23, features.Count);
        Assert.Equal("Repayment status in September (months behind)", features["PAY_0"].GetProperty("reasonText").GetString());
        Assert.True(features["AGE"].GetProperty("protected").GetBoolean());
        Assert.False(features["PAY_0"].GetProperty("protected").GetBoolean());
    }
}
