using System.Globalization;
using System.Text.Json;
using FinServerless.Contracts;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Native;
using FinServerless.Scoring;
using FinServerless.Training.Trainers;

namespace FinServerless.Training.Tests;

/// <summary>
/// Real loan files described by the shipped contracts, from ingest to reason codes: a loan book whose status column
/// maps to the target (some statuses leave a loan unlabelled, an unknown one is quarantined), whose dates become months
/// and whose open category columns each model encodes; and German credit (a 1/2 class, thirteen coded categories).
/// </summary>
public sealed class LoanFileTests : IDisposable
{
    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("finserverless-loans-");

    public void Dispose() => _folder.Delete(recursive: true);

    private static string Sample(string name, string file) => Path.Combine(RepositoryLayout.Root, "samples", name, file);

    private async Task<IngestOutcome> IngestAsync(FolderRunOutput store, string sample, string file)
    {
        var contract = DatasetContract.Load(Sample(sample, "contract.json"));
        await using var input = File.OpenRead(Sample(sample, file));
        return await IngestEngine.RunAsync(input, file, contract, StorageName.Run("r1"), store);
    }

    private static List<string[]> Rows(FolderRunOutput store, RunPart part) =>
        [.. File.ReadLines(Path.Combine(store.Root, part.Path)).Skip(1).Select(l => l.Split(','))];

    [Fact]
    public async Task A_loan_book_maps_its_status_to_the_target_counts_months_encodes_open_categories_and_explains_every_score()
    {
        var store = new FolderRunOutput(_folder.FullName);
        var raw = File.ReadLines(Sample("loan-book", "loans.csv")).Skip(1).Select(l => l.Split(',')).ToList();
        var outcome = await IngestAsync(store, "loan-book", "loans.csv");

        // Statuses the contract does not map are quarantined with the rule, never guessed.
        Assert.Equal(IngestState.Curated, outcome.State);
        var unmapped = raw.Count(r => r[13].StartsWith("Does not meet", StringComparison.Ordinal));
        Assert.True(unmapped > 0);
        Assert.Equal(unmapped, outcome.Manifest!.Rows.Rejected);
        var report = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(store.Root, outcome.Manifest.QuarantineReport!)));
        Assert.Equal(unmapped, report.RootElement.GetProperty("failuresByRule").GetProperty("target_value").GetInt64());
        var failure = report.RootElement.GetProperty("unexpectedRows")[0].GetProperty("failures")[0].GetString()!;
        Assert.Contains("column 'loan_status': target_value (not one of the target's values (positive 'Charged Off'/'Default', negative 'Fully Paid'", failure, StringComparison.Ordinal);
        Assert.DoesNotContain("Does not meet", File.ReadAllText(Path.Combine(store.Root, outcome.Manifest.QuarantineReport!)), StringComparison.Ordinal);

        // Curated: the label 1/0, or empty for a loan still running; dates as whole months to 2026-12-01; categories as text.
        var run = outcome.Manifest;
        var header = File.ReadLines(Path.Combine(store.Root, run.Parts[0].Path)).First().Split(',');
        int At(string column) => Array.IndexOf(header, column);
        var curated = run.Parts.SelectMany(p => Rows(store, p)).ToDictionary(r => r[At("loan_id")]);
        var labels = new Dictionary<string, string> { ["Charged Off"] = "1", ["Default"] = "1", ["Fully Paid"] = "0", ["Current"] = string.Empty, ["In Grace Period"] = string.Empty, ["Late (31-120 days)"] = string.Empty };
        var reference = new DateOnly(2026, 12, 1);
        foreach (var r in raw.Where(r => !r[13].StartsWith("Does not meet", StringComparison.Ordinal)))
        {
            var row = curated[r[0]];
            Assert.Equal(labels[r[13]], row[At("defaulted")]);
            var issued = DateOnly.ParseExact(r[1], "yyyy-MM-dd", CultureInfo.InvariantCulture);
            var months = ((reference.Year - issued.Year) * 12) + reference.Month - issued.Month - (reference.Day < issued.Day ? 1 : 0);
            Assert.Equal(months.ToString(CultureInfo.InvariantCulture), row[At("months_on_book")]);
            Assert.Equal(r[6], row[At("purpose")]);
        }

        Assert.Equal(raw[0][4] == "36 months" ? "0" : "1", curated[raw[0][0]][At("term")]);
        Assert.Equal(8, run.Features.Single(f => f.Name == "purpose").TopCategories);
        Assert.True(run.Features.Single(f => f.Name == "applicant_age").Protected);

        // Trained on the labelled loans only; the open categories' codes are the model's, written in its manifest.
        await TrainingJob.RunAsync(store, outcome.ManifestPath!, store, new TrainingRequest { Trainer = "xgboost", ModelName = "loans", Version = "v1", Settings = new TrainerSettings { Parameters = new() { ["num_boost_round"] = 60 } } }, TrainingProgress.None);
        using var model = await new ModelStore(store).LoadAsync(ModelReference.Parse("loans@v1"));
        var labelled = curated.Values.Count(r => r[At("defaulted")].Length > 0);
        var metrics = model.Manifest.Metrics!;
        Assert.Equal(labelled, (int)metrics["train_rows"] + (int)metrics["rows"]);
        var purpose = model.Manifest.Features.Single(f => f.Name == "purpose");
        var byFrequency = raw.Select(r => r[6]).GroupBy(p => p).OrderByDescending(g => g.Count()).ThenBy(g => g.Key, StringComparer.Ordinal).Select(g => g.Key).Take(8);
        Assert.Equal(byFrequency, purpose.Categories!);
        Assert.DoesNotContain("educational", purpose.Categories!);
        Assert.Equal(["MORTGAGE", "RENT", "OWN", "OTHER", "NONE"], model.Manifest.Features.Single(f => f.Name == "home_ownership").Categories!);
        Assert.True(model.Manifest.Features.Single(f => f.Name == "applicant_age").Protected);
        Assert.Equal("Debt payments relative to income", model.Manifest.Features.Single(f => f.Name == "dti").ReasonText);
        Assert.True(metrics["auc"] > 0.6, $"AUC {metrics["auc"]} on the synthetic book, whose defaults follow its features");

        // Every curated loan is scored (running ones too), with reasons that are never the protected age.
        var scored = await BatchScorer.ScoreRunAsync(run, outcome.ManifestPath!, store, model);
        Assert.Equal(run.Rows.Accepted, scored.Manifest.Rows);
        var scores = scored.Manifest.Parts.SelectMany(p => Rows(store, p)).ToList();
        var reasons = scores.SelectMany(s => Enumerable.Range(0, 4).Select(k => s[4 + (2 * k)])).Where(r => r.Length > 0).ToList();
        Assert.DoesNotContain("applicant_age", reasons);
        Assert.Contains("purpose", reasons);
        Assert.Contains("int_rate", reasons);
        Assert.Equal("Purpose of the loan", scored.Manifest.ReasonTexts!["purpose"]);
        Assert.Equal(["applicant_age"], scored.Manifest.NeverReasons!);

        // The scorer encodes categories as training did: a rare purpose reads as "other", the same as an unseen one.
        var other = purpose.Categories!.Count;
        using var reader = model.Manifest.OpenReader(
            new MemoryStream(System.Text.Encoding.UTF8.GetBytes($"{string.Join(',', header)}\n" + string.Join(',', header.Select(h => h == "purpose" ? "educational" : "1")) + "\n" + string.Join(',', header.Select(h => h == "purpose" ? "never-seen" : "1")) + "\n")),
            "rows");
        var x = new float[model.Manifest.Features.Count];
        var at = model.Manifest.Features.ToList().FindIndex(f => f.Name == "purpose");
        Assert.True(reader.ReadRow(x));
        Assert.Equal(other, x[at]);
        Assert.True(reader.ReadRow(x));
        Assert.Equal(other, x[at]);
    }

    [Fact]
    public async Task German_credit_reads_with_its_coded_categories_and_class_and_is_explained_without_its_protected_characteristics()
    {
        var store = new FolderRunOutput(_folder.FullName);
        var outcome = await IngestAsync(store, "german-credit", "german.data");

        Assert.Equal(IngestState.Curated, outcome.State);
        var run = outcome.Manifest!;
        Assert.Equal(1_000, run.Rows.Accepted);
        var rows = run.Parts.SelectMany(p => Rows(store, p)).ToList();
        Assert.Equal(300, rows.Count(r => r[^1] == "1"));
        Assert.Equal(700, rows.Count(r => r[^1] == "0"));

        await TrainingJob.RunAsync(store, outcome.ManifestPath!, store, new TrainingRequest { Trainer = "xgboost", ModelName = "german", Version = "v1", Settings = new TrainerSettings { Parameters = new() { ["num_boost_round"] = 80 } } }, TrainingProgress.None);
        using var model = await new ModelStore(store).LoadAsync(ModelReference.Parse("german@v1"));
        Assert.Equal(["A14", "A11", "A12", "A13"], model.Manifest.Features.Single(f => f.Name == "checking_status").Categories!);
        Assert.True(model.Manifest.Metrics!["auc"] > 0.7, $"AUC {model.Manifest.Metrics["auc"]}");

        var scored = await BatchScorer.ScoreRunAsync(run, outcome.ManifestPath!, store, model);
        string[] protectedColumns = ["personal_status_sex", "age", "foreign_worker"];
        Assert.Equal(protectedColumns, scored.Manifest.NeverReasons!);
        var reasons = scored.Manifest.Parts.SelectMany(p => Rows(store, p)).SelectMany(s => Enumerable.Range(0, 4).Select(k => s[3 + (2 * k)])).Where(r => r.Length > 0).ToList();
        Assert.NotEmpty(reasons);
        Assert.DoesNotContain(reasons, protectedColumns.Contains);
        Assert.Contains("checking_status", reasons);
        Assert.Equal("Status of the checking account", scored.Manifest.ReasonTexts!["checking_status"]);
    }
}
