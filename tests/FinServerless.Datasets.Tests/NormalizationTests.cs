using FinServerless.Contracts;
using System.Text;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Ingest;

namespace FinServerless.Datasets.Tests;

public sealed class NormalizationTests : IDisposable
{
    private const string Contract = """
        {
          "contractVersion": "2.1.0", "partner": "acme", "dataset": "loans",
          "file": { "delimiter": ";", "decimalSeparator": "," },
          "rules": { "minRows": 1, "maxRejectedShare": 1 },
          "columns": [
            { "name": "loan_id", "type": "string", "role": "id", "nullable": false },
            { "name": "holder", "type": "string", "role": "ignore", "pii": true },
            { "name": "income", "type": "decimal", "min": 0,
              "normalize": { "impute": "median", "clip": [0, 100000], "scale": "standard", "reference": { "mean": 50000, "std": 25000, "median": 40000 } } },
            { "name": "segment", "type": "category", "allowed": ["retail", "sme", "corporate"], "normalize": { "encode": "ordinal" } },
            { "name": "opened", "type": "date", "format": "dd/MM/yyyy" },
            { "name": "secured", "type": "boolean" },
            { "name": "email", "type": "string", "pii": true, "role": "feature" },
            { "name": "defaulted", "type": "integer", "role": "target", "allowed": ["0", "1"] }
          ]
        }
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("fs-norm-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<IngestOutcome> IngestAsync(string csv)
    {
        var contract = DatasetContract.Parse(Encoding.UTF8.GetBytes(Contract), "contracts/acme/loans.json");
        return await IngestEngine.RunAsync(new MemoryStream(Encoding.UTF8.GetBytes(csv)), "inbox-acme/loans/f.csv", contract, StorageName.Run("r-norm"), new FolderRunOutput(_dir));
    }

    [Fact]
    public async Task Values_are_imputed_clipped_scaled_encoded_and_written_in_canonical_form_and_contract_order()
    {
        var outcome = await IngestAsync(
            "defaulted;opened;segment;income;loan_id;secured;holder;email;branch\n" +
            "0;31/01/2026;sme;75000,5;L-1;yes;Ann Smith;ann@example.com;north\n" +
            "1;01/02/2026;retail;NA;\"L-2; second\";0;Bob Jones;bob@example.com;south\n" +
            "0;15/03/2026;corporate;250000;L-3;TRUE;Cy Young;cy@example.com;east\n");

        Assert.Equal(IngestState.Curated, outcome.State);
        var lines = File.ReadAllLines(Path.Combine(_dir, outcome.Manifest!.Parts[0].Path));
        Assert.Equal("loan_id,income,segment,opened,secured,email,defaulted", lines[0]);
        Assert.Equal("L-1,1.00002,1,2026-01-31,1,ann@example.com,0", lines[1]);
        Assert.Equal("L-2; second,-0.4,0,2026-02-01,0,bob@example.com,1", lines[2]);
        Assert.Equal("L-3,2,2,2026-03-15,1,cy@example.com,0", lines[3]);
        Assert.Equal(1, outcome.Manifest.ExtraColumns.Count);
        Assert.Equal([9], outcome.Manifest.ExtraColumns.Positions);
        Assert.DoesNotContain("branch", File.ReadAllText(Path.Combine(_dir, outcome.ManifestPath!)));
        Assert.DoesNotContain("holder", lines[0]);
        var email = outcome.Manifest.Profile["email"]!;
        Assert.Equal(3, email.Categories!["[pii]"]);
    }

    [Fact]
    public async Task Every_failure_in_a_row_is_collected_and_PII_never_appears_in_the_quarantine()
    {
        var outcome = await IngestAsync(
            "loan_id;holder;income;segment;opened;secured;email;defaulted\n" +
            ";Ann Smith;-5;unknown;2026-01-31;maybe;ann@example.com;7\n" +
            "L-9;Bob;10;sme;01/01/2026;no;bob@example.com;0\n");

        var report = outcome.Report!;
        Assert.Equal(IngestState.Curated, outcome.State);
        Assert.Equal(1, report.Rows.Rejected);
        var failures = report.UnexpectedRows[0].Failures;
        Assert.Equal(6, failures.Count);
        Assert.Contains(failures, f => f.StartsWith("column 'loan_id': not_null", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("column 'income': min", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("column 'segment': allowed", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("column 'opened': type", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("column 'secured': type", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("column 'defaulted': allowed", StringComparison.Ordinal));
        Assert.Equal(50.0, report.SuccessPercent);
        var quarantine = Directory.GetFiles(Path.Combine(_dir, "quarantine"), "*", SearchOption.AllDirectories).Select(File.ReadAllText).ToList();
        Assert.All(quarantine, text => Assert.DoesNotContain("ann@example.com", text));
        Assert.All(quarantine, text => Assert.DoesNotContain("Ann Smith", text));
    }
}
