using FinServerless.Contracts;
using System.Text;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Ingest;

namespace FinServerless.Datasets.Tests;

/// <summary>
/// Text a spreadsheet would run as a formula (=, +, -, @, tab, CR first) never reaches curated parts live: string
/// cells are written with a leading apostrophe, as in rejected.csv, counted per column in the manifest.
/// </summary>
public sealed class FormulaCellsTests : IDisposable
{
    private const string ContractJson = """
        {
          "contractVersion": "1.0.0", "partner": "acme", "dataset": "notes",
          "rules": { "minRows": 1, "maxRejectedShare": 1 },
          "columns": [
            { "name": "loan_id", "type": "string", "role": "id", "nullable": false },
            { "name": "note", "type": "string" },
            { "name": "code", "type": "string", "sentinels": { "-1": "special" } },
            { "name": "amount", "type": "float" },
            { "name": "count", "type": "integer" },
            { "name": "grade", "type": "category", "allowed": ["A", "-"] }
          ]
        }
        """;

    private const string Header = "loan_id,note,code,amount,count,grade";

    // In contract order (rows that would otherwise be copied whole), and the curated text expected for each.
    private static readonly (string Row, string Curated)[] Rows =
    [
        ("L-1,plain,x,1.5,2,A", "L-1,plain,x,1.5,2,A"),
        ("L-2,\"=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",x,-5,-3,A", "L-2,\"'=HYPERLINK(\"\"http://evil\"\",\"\"x\"\")\",x,-5,-3,A"),
        ("+1-555,@SUM(A1),-2,2,0,-", "'+1-555,'@SUM(A1),'-2,2,0,-"),
        ("L-4,\"\tcmd\",-1,0,1,A", "L-4,'\tcmd,-1,0,1,A"),
        ("L-5,\"\r=1+1\",x,3,4,A", "L-5,\"'\r=1+1\",x,3,4,A"),
        ("-L6,-,x,-0.25,-7,A", "'-L6,'-,x,-0.25,-7,A"),
    ];

    private readonly string _dir = Directory.CreateTempSubdirectory("fs-formula-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<(IngestOutcome Outcome, string[] Curated)> IngestAsync(string csv, string name, IngestOptions? options = null)
    {
        var contract = DatasetContract.Parse(Encoding.UTF8.GetBytes(ContractJson), "contracts/acme/notes.json");
        var dir = Path.Combine(_dir, name);
        var outcome = await IngestEngine.RunAsync(new MemoryStream(Encoding.UTF8.GetBytes(csv)), "inbox-acme/notes/f.csv", contract, StorageName.Run("r-" + name), new FolderRunOutput(dir), options);
        var curated = outcome.Manifest is { } m ? string.Concat(m.Parts.Select(p => File.ReadAllText(Path.Combine(dir, p.Path)))) : string.Empty;
        return (outcome, curated.Split('\n')[..^1]);
    }

    [Fact]
    public async Task String_cells_that_start_like_formulas_are_curated_neutralized_and_counted_and_numbers_are_untouched()
    {
        var (outcome, curated) = await IngestAsync(Header + "\n" + string.Join("\n", Rows.Select(r => r.Row)) + "\n", "in-order");

        Assert.Equal(IngestState.Curated, outcome.State);
        Assert.Equal(new RowCounts(6, 6, 0), outcome.Manifest!.Rows);
        Assert.Equal(Header, curated[0]);
        Assert.Equal(Rows.Select(r => r.Curated), curated[1..]);
        Assert.Equal(new Dictionary<string, long> { ["code"] = 1, ["loan_id"] = 2, ["note"] = 5 }, outcome.Manifest.FormulaCellsNeutralized);
        var note = outcome.Manifest.Profile["note"]!.Categories!;
        Assert.Contains("'@SUM(A1)", note.Keys);
        Assert.DoesNotContain("@SUM(A1)", note.Keys);
    }

    [Fact]
    public async Task Rows_in_another_column_order_curate_to_the_same_neutralized_text()
    {
        // Field by field (no row can be copied whole) gives what the whole-row path gives.
        int[] order = [5, 3, 0, 4, 2, 1];
        var names = Header.Split(',');
        var shuffled = string.Join(',', order.Select(i => names[i])) + "\n" + string.Join("\n", Rows.Select(r => string.Join(',', order.Select(i => Fields(r.Row)[i])))) + "\n";

        var (outcome, curated) = await IngestAsync(shuffled, "shuffled");

        Assert.Equal(Rows.Select(r => r.Curated), curated[1..]);
        Assert.Equal(8, outcome.Manifest!.FormulaCellsNeutralized.Values.Sum());
    }

    [Fact]
    public async Task Counts_add_up_across_workers_and_blocks()
    {
        var rows = Enumerable.Range(0, 3_000).Select(i => i % 3 == 0 ? $"L{i},=x{i},x,1,1,A" : $"L{i},ok,x,1,1,A");

        var (outcome, curated) = await IngestAsync(Header + "\n" + string.Join("\n", rows) + "\n", "blocks", new IngestOptions { Workers = 3, BlockBytes = 700 });

        Assert.Equal(1_000, outcome.Manifest!.FormulaCellsNeutralized["note"]);
        Assert.Equal(1_000, curated.Count(l => l.Contains(",'=x", StringComparison.Ordinal)));
        Assert.DoesNotContain(curated, l => l.Contains(",=x", StringComparison.Ordinal));
    }

    /// <summary>The fields of one of <see cref="Rows"/> (quoted ones kept as written).</summary>
    private static string[] Fields(string row)
    {
        var fields = new List<string>();
        var start = 0;
        var quoted = false;
        for (var i = 0; i < row.Length; i++)
        {
            if (row[i] == '"')
            {
                quoted = !quoted;
            }
            else if (row[i] == ',' && !quoted)
            {
                fields.Add(row[start..i]);
                start = i + 1;
            }
        }

        fields.Add(row[start..]);
        return fields.ToArray();
    }

    [Fact]
    public async Task An_open_category_value_that_starts_like_a_formula_is_curated_neutralized()
    {
        // An open category takes the file's values, not the contract's: they are text like any other.
        var contract = DatasetContract.Parse(
            """{"contractVersion": "1", "partner": "acme", "dataset": "notes", "rules": {"minRows": 1, "maxRejectedShare": 1}, "columns": [{"name": "id", "type": "string", "role": "id"}, {"name": "purpose", "type": "category"}]}"""u8,
            "contracts/acme/notes.json");
        var dir = Path.Combine(_dir, "open");
        var outcome = await IngestEngine.RunAsync(new MemoryStream("id,purpose\n1,car\n2,=HYPERLINK(1)\n"u8.ToArray()), "inbox-acme/notes/f.csv", contract, StorageName.Run("r-open"), new FolderRunOutput(dir));

        Assert.Equal(IngestState.Curated, outcome.State);
        Assert.Equal("id,purpose\n1,car\n2,'=HYPERLINK(1)\n", File.ReadAllText(Path.Combine(dir, outcome.Manifest!.Parts[0].Path)));
        Assert.Equal(1, outcome.Manifest.FormulaCellsNeutralized["purpose"]);
    }
}
