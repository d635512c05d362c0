using FinServerless.Contracts;
using System.Text;
using System.Text.Json;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Ingest;

namespace FinServerless.Datasets.Tests;

/// <summary>
/// A partner file's text never reaches a message, report.json or a manifest: a file without its header row has
/// personal data on its first line, and a header can be anything. Only rejected.csv shows values, PII masked.
/// </summary>
public sealed class NoRowContentsTests : IDisposable
{
    private const string Ssn = "123-45-6789";
    private const string Name = "Jane Q Public";

    private const string ContractJson = """
        {
          "contractVersion": "1.0.0", "partner": "acme", "dataset": "applicants",
          "rules": { "minRows": 1, "maxRejectedShare": 1, "allowExtraColumns": ALLOW },
          "columns": [
            { "name": "applicant_id", "type": "string", "role": "id", "nullable": false },
            { "name": "ssn", "type": "string", "role": "id", "pii": true },
            { "name": "full_name", "type": "string", "role": "feature", "pii": true },
            { "name": "income", "type": "decimal", "min": 0 },
            { "name": "grade", "type": "category", "allowed": ["A", "B", "C"] },
            { "name": "defaulted", "type": "integer", "role": "target", "allowed": ["0", "1"] }
          ]
        }
        """;

    private const string Header = "applicant_id,ssn,full_name,income,grade,defaulted";

    private readonly string _dir = Directory.CreateTempSubdirectory("fs-pii-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<IngestOutcome> IngestAsync(string csv, bool allowExtra = true)
    {
        var contract = DatasetContract.Parse(Encoding.UTF8.GetBytes(ContractJson.Replace("ALLOW", allowExtra ? "true" : "false")), "contracts/acme/applicants.json");
        return await IngestEngine.RunAsync(new MemoryStream(Encoding.UTF8.GetBytes(csv)), "inbox-acme/applicants/f.csv", contract, StorageName.Run("r-pii"), new FolderRunOutput(_dir));
    }

    /// <summary>Every written object except curated parts (the accepted rows themselves) and rejected.csv.</summary>
    private List<(string Path, string Text)> Written(params string[] except) =>
        Directory.GetFiles(_dir, "*", SearchOption.AllDirectories)
            .Where(f => !(f.Contains($"{Path.DirectorySeparatorChar}curated{Path.DirectorySeparatorChar}", StringComparison.Ordinal) && f.EndsWith(".csv", StringComparison.Ordinal)))
            .Where(f => !except.Contains(Path.GetFileName(f)))
            .Select(f => (f, File.ReadAllText(f)))
            .ToList();

    private void AssertNowhere(IngestOutcome outcome, params string[] texts)
    {
        var report = JsonSerializer.Serialize(outcome.Report, RunManifest.JsonOptions);
        var manifest = outcome.Manifest is null ? string.Empty : JsonSerializer.Serialize(outcome.Manifest, RunManifest.JsonOptions);
        foreach (var text in texts)
        {
            Assert.DoesNotContain(text, outcome.Message);
            Assert.DoesNotContain(text, report);
            Assert.DoesNotContain(text, manifest);
            Assert.All(Written("rejected.csv"), f => Assert.False(f.Text.Contains(text, StringComparison.Ordinal), $"{f.Path} holds '{text}'"));
        }
    }

    [Fact]
    public async Task A_file_without_its_header_row_is_rejected_by_counts_and_the_contracts_names_never_by_its_first_line()
    {
        var outcome = await IngestAsync($"A-1,{Ssn},{Name},52000,B,0\nA-2,987-65-4320,John Roe,41000,A,1\n");

        Assert.Equal(IngestState.Rejected, outcome.State);
        Assert.Equal("missing_column", outcome.Report!.Rule);
        Assert.Contains("inbox-acme/applicants/f.csv: line 1", outcome.Message);
        Assert.Contains("'applicant_id'", outcome.Message);
        Assert.Contains("6 field(s), 0 of them named as contract columns", outcome.Message);
        Assert.Contains("Is the first line a header row?", outcome.Message);
        AssertNowhere(outcome, Ssn, Name, "A-1", "52000");
        Assert.NotEmpty(Written());
    }

    [Fact]
    public async Task Header_names_that_are_not_the_contracts_are_described_by_position_when_duplicated_or_not_allowed()
    {
        var duplicated = await IngestAsync($"{Header},{Ssn},{Ssn}\nA-1,1,x,5,A,0,a,b\n");
        Assert.Equal("duplicate_header", duplicated.Report!.Rule);
        Assert.Contains("columns 7 and 8 of the header", duplicated.Message);
        AssertNowhere(duplicated, Ssn);

        Directory.Delete(_dir, recursive: true);
        var extra = await IngestAsync($"{Header},{Name},note\nA-1,1,x,5,A,0,a,b\n", allowExtra: false);
        Assert.Equal("extra_column", extra.Report!.Rule);
        Assert.Contains("2 header column(s) are not in the contract (at position(s) 7, 8)", extra.Message);
        AssertNowhere(extra, Name);
    }

    [Fact]
    public async Task Extra_columns_are_listed_by_position_and_report_examples_carry_no_value_and_no_PII_id()
    {
        var outcome = await IngestAsync(
            $"{Header},{Name}\n" +
            "A-1,111-11-1111,Ann Smith,52000,B,0,x\n" +
            $"A-2,{Ssn},{Name},-5,Z,1,y\n");

        Assert.Equal(IngestState.Curated, outcome.State);
        Assert.Equal(1, outcome.Manifest!.ExtraColumns.Count);
        Assert.Equal([7], outcome.Manifest.ExtraColumns.Positions);
        var example = Assert.Single(outcome.Report!.UnexpectedRows);
        Assert.Equal(2, example.Row);
        Assert.Equal(3, example.Line);
        Assert.Equal(new Dictionary<string, string> { ["applicant_id"] = "A-2" }, example.Ids);
        Assert.Contains(example.Failures, f => f.StartsWith("column 'income': min", StringComparison.Ordinal));
        AssertNowhere(outcome, Ssn, Name, "-5", "Z,");

        // rejected.csv shows the failing values (formulas neutralized), never the PII.
        var rejected = File.ReadAllText(Path.Combine(_dir, outcome.Report.RejectedCsv!));
        Assert.Contains(",income,min,", rejected);
        Assert.Contains("'-5", rejected);
        Assert.DoesNotContain(Ssn, rejected);
        Assert.DoesNotContain(Name, rejected);
    }
}
