using System.Text;
using FinServerless.Contracts;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Ingest;

namespace FinServerless.Datasets.Tests;

/// <summary>Ingest warns, with counts and never values, when an id column is blank or repeats within a file.</summary>
public sealed class IdColumnCheckTests : IDisposable
{
    private const string ContractJson = """
        {"contractVersion": "1.0.0", "partner": "acme", "dataset": "loans", "file": {"delimiter": ",", "header": true},
         "rules": {"minRows": 0, "maxRejectedShare": 1}, "missingTokens": [""],
         "columns": [{"name": "loan_id", "type": "string", "role": "id", "nullable": true}, {"name": "x", "type": "float"},
                     {"name": "y", "type": "integer", "role": "target"}]}
        """;

    private readonly string _dir = Directory.CreateTempSubdirectory("fs-ids-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<IngestOutcome> IngestAsync(IEnumerable<string> ids, string run, int workers)
    {
        var rows = ids.Select((id, i) => $"{id},{i * 0.5},{i % 2}");
        var bytes = Encoding.UTF8.GetBytes(string.Join('\n', rows.Prepend("loan_id,x,y")) + "\n");
        using var input = new MemoryStream(bytes);
        var contract = DatasetContract.Parse(Encoding.UTF8.GetBytes(ContractJson), "test contract");
        var outcome = await IngestEngine.RunAsync(input, "loans.csv", contract, StorageName.Run(run), new FolderRunOutput(_dir), new IngestOptions { Workers = workers, PartBytes = 1 << 16 });
        Assert.Equal(IngestState.Curated, outcome.State);
        return outcome;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task Blank_and_repeated_ids_are_counted_across_the_whole_file_and_warned_about_without_their_values(int workers)
    {
        // 60,000 distinct ids, then three repeats of ids far apart in the file (other blocks, other workers) and two blanks.
        var ids = Enumerable.Range(0, 60_000).Select(i => $"secret-{i}").Concat(["secret-7", "secret-59000", "secret-7", "", ""]).ToList();

        var outcome = await IngestAsync(ids, $"r-ids-{workers}", workers);

        var check = Assert.Single(outcome.Manifest!.IdChecks);
        Assert.Equal(("loan_id", 2L, 3L, 60_003L), (check.Column, check.Blank, check.Repeated, check.Checked));
        var warning = Assert.Single(outcome.Manifest.Warnings);
        Assert.Equal("id column 'loan_id': 2 blank, 3 repeated of 60,005 accepted rows; scores are keyed by id, so rows sharing an id cannot be told apart", warning);
        Assert.Contains("Warning: id column 'loan_id'", outcome.Message);
        Assert.DoesNotContain("secret", string.Join(' ', outcome.Manifest.Warnings) + outcome.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Distinct_ids_raise_no_warning()
    {
        var outcome = await IngestAsync(Enumerable.Range(0, 5_000).Select(i => $"L{i}"), "r-clean", 2);
        Assert.Empty(outcome.Manifest!.Warnings);
        Assert.Equal(new IdColumnCheck("loan_id", 0, 0, 5_000), Assert.Single(outcome.Manifest.IdChecks));
    }
}
