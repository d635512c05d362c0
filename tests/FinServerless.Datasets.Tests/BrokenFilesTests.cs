using FinServerless.Contracts;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using FinServerless.Datasets.Ingest;

namespace FinServerless.Datasets.Tests;

/// <summary>A corpus of broken partner files: each ends rejected, with a report naming the file and where, and nothing crashes.</summary>
public sealed class BrokenFilesTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fs-broken-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static byte[] Taiwan => File.ReadAllBytes(DatasetFiles.TaiwanCsv);

    private static byte[] Gzip(byte[] data)
    {
        var ms = new MemoryStream();
        using (var z = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true))
        {
            z.Write(data);
        }

        return ms.ToArray();
    }

    public static TheoryData<string, string, string[]> Corpus => new()
    {
        { "truncated.csv.gz", "corrupt_compression", ["truncated.csv.gz", "truncated or corrupt"] },
        { "semicolons.csv", "malformed", ["semicolons.csv", "line 1", "Is the delimiter right? The file seems to use ';'"] },
        { "semicolons-unquoted.csv", "missing_column", ["semicolons-unquoted.csv", "line 1", "'LIMIT_BAL'", "is the delimiter right?"] },
        { "utf16.csv", "malformed", ["utf16.csv", "UTF-16"] },
        { "unterminated.csv", "malformed", ["unterminated.csv", "line 3", "unterminated quote"] },
        { "unterminated-then-quoted.csv", "malformed", ["unterminated-then-quoted.csv", "line 3:", "unterminated quote"] },
        { "long-line.csv", "malformed", ["long-line.csv", "line 2", "longer than the limit"] },
        { "duplicate-header.csv", "duplicate_header", ["duplicate-header.csv", "line 1", "'AGE' appears in columns 6 and 7"] },
        { "empty.csv", "empty_file", ["empty.csv", "the file is empty"] },
        { "header-only.csv", "min_rows", ["header-only.csv", "0 data row(s)"] },
        { "garbage.bin", "malformed", ["garbage.bin", "binary data"] },
        { "mostly-bad.csv", "max_rejected_share", ["mostly-bad.csv", "failed validation", "row 1 (line 2)", "column 'AGE'"] },
    };

    private string Make(string name)
    {
        var path = Path.Combine(_dir, name);
        var header = Encoding.UTF8.GetString(Taiwan).Split('\n')[0];
        switch (name)
        {
            case "truncated.csv.gz":
                var gz = Gzip(Taiwan);
                File.WriteAllBytes(path, gz[..(gz.Length / 2)]);
                break;
            case "semicolons.csv":
                File.WriteAllText(path, Encoding.UTF8.GetString(Taiwan).Replace(',', ';'));
                break;
            case "semicolons-unquoted.csv":
                File.WriteAllText(path, Encoding.UTF8.GetString(Taiwan).Replace(',', ';').Replace("\"", string.Empty));
                break;
            case "utf16.csv":
                File.WriteAllBytes(path, Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes(Encoding.UTF8.GetString(Taiwan[..5000]))).ToArray());
                break;
            case "unterminated.csv":
                File.WriteAllText(path, header + "\n1,20000,2,2,1,24,2,2,-1,-1,-2,-2,3913,3102,689,0,0,0,0,689,0,0,0,0,1\n2,\"120000,2,2,2,26\n");
                break;
            case "unterminated-then-quoted.csv":
                // The quote opened on line 3 pairs with a quote 500 lines later: reported on line 3, quoting nothing.
                File.WriteAllText(path, header + "\n1,20000,2,2,1,24,2,2,-1,-1,-2,-2,3913,3102,689,0,0,0,0,689,0,0,0,0,1\n2,\"120000,2,2,2,26\n"
                    + string.Concat(Enumerable.Range(3, 500).Select(i => $"{i},20000,2,2,1,24,2,2,-1,-1,-2,-2,3913,3102,689,0,0,0,0,689,0,0,0,0,1\n"))
                    + "600,\"Smith, J\",2,2,1,24,2,2,-1,-1,-2,-2,3913,3102,689,0,0,0,0,689,0,0,0,0,1\n");
                break;
            case "long-line.csv":
                using (var f = File.Create(path))
                {
                    f.Write(Encoding.UTF8.GetBytes(header + "\n"));
                    var chunk = Encoding.ASCII.GetBytes(new string('9', 1 << 20));
                    for (var i = 0; i < 100; i++)
                    {
                        f.Write(chunk);
                    }

                    f.Write("\n"u8);
                }

                break;
            case "duplicate-header.csv":
                File.WriteAllText(path, header.Replace("\"PAY_0\"", "\"AGE\"") + "\n1,2,3\n");
                break;
            case "empty.csv":
                File.WriteAllBytes(path, []);
                break;
            case "header-only.csv":
                File.WriteAllText(path, header + "\n");
                break;
            case "garbage.bin":
                File.WriteAllBytes(path, RandomNumberGenerator.GetBytes(200_000).Select(b => b == 10 ? (byte)0 : b).ToArray());
                break;
            case "mostly-bad.csv":
                var lines = Encoding.UTF8.GetString(Taiwan).Split('\n');
                File.WriteAllLines(path, lines.Take(1).Concat(lines.Skip(1).Take(500).Select(l => l.Length == 0 ? l : ReplaceAge(l))));
                break;
        }

        return path;
    }

    private static string ReplaceAge(string line)
    {
        var cells = line.Split(',');
        cells[5] = "=cmd|' /C calc'!A0";
        return string.Join(',', cells);
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public async Task Each_broken_file_is_rejected_with_a_report_naming_the_file_and_where(string name, string rule, string[] expected)
    {
        var path = Make(name);
        var output = new FolderRunOutput(Path.Combine(_dir, "out"));
        var contract = DatasetFiles.TaiwanContract with { Rules = DatasetFiles.TaiwanContract.Rules with { MinRows = 1 } };

        await using var input = File.OpenRead(path);
        var outcome = await IngestEngine.RunAsync(input, name, contract, StorageName.Run("r-" + rule.Replace('_', '-')), output);

        Assert.Equal(IngestState.Rejected, outcome.State);
        Assert.Equal(rule, outcome.Report!.Rule);
        foreach (var text in expected)
        {
            Assert.Contains(text, outcome.Message);
        }

        Assert.DoesNotContain("Smith", outcome.Message);

        Assert.True(File.Exists(Path.Combine(output.Root, outcome.ReportPath!)));
        Assert.False(Directory.Exists(Path.Combine(output.Root, "curated", "demo", "taiwan-credit", outcome.RunId)), "a rejected file leaves no curated output");
        Assert.Equal(new FileInfo(path).Length, outcome.Report.Input.Bytes);
    }

    [Fact]
    public async Task Rejected_cells_that_look_like_formulas_are_neutralized_in_rejected_csv()
    {
        var path = Make("mostly-bad.csv");
        var output = new FolderRunOutput(Path.Combine(_dir, "out"));

        await using var input = File.OpenRead(path);
        var outcome = await IngestEngine.RunAsync(input, "mostly-bad.csv", DatasetFiles.TaiwanContract, StorageName.Run("r-formula"), output);
        var rejected = File.ReadAllLines(Path.Combine(output.Root, outcome.Report!.RejectedCsv!));

        Assert.Equal(501, rejected.Length);
        Assert.All(rejected.Skip(1), l => Assert.Contains(",AGE,type,not an integer,'=cmd|' /C calc'!A0", l));
    }
}
