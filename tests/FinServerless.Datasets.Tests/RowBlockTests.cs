using FinServerless.Contracts;
using System.Text;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Csv;
using FinServerless.Datasets.Ingest;

namespace FinServerless.Datasets.Tests;

/// <summary>
/// Ingest workers parse blocks of whole rows cut by the reading thread: whatever the block size and however the
/// stream returns its bytes, the rows, their line numbers and the first error must be what one reader over the
/// whole file sees.
/// </summary>
public sealed class RowBlockTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fs-blocks-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private sealed record Row(long Line, bool Plain, string[] Fields);

    private static Row Current(CsvReader reader) =>
        new(reader.Line, reader.RowIsPlain, Enumerable.Range(0, reader.FieldCount).Select(i => Encoding.UTF8.GetString(reader[i])).ToArray());

    private static (List<Row> Rows, string? Error) Sequential(byte[] bytes, int maxRow)
    {
        var rows = new List<Row>();
        using var reader = new CsvReader(new MemoryStream(bytes), (byte)',', maxRow, "t.csv");
        try
        {
            while (reader.ReadRow())
            {
                rows.Add(Current(reader));
            }
        }
        catch (CsvFormatException ex)
        {
            return (rows, ex.Message);
        }

        return (rows, null);
    }

    private static (List<Row> Rows, string? Error) Blocked(byte[] bytes, int maxRow, int blockBytes, int seed)
    {
        var rows = new List<Row>();
        var chunker = new RowChunker(new TrickleStream(bytes, seed), (byte)',', maxRow, "t.csv", [], 1);
        var reader = new CsvReader((byte)',', maxRow, "t.csv");
        var block = new RowBlock(blockBytes);
        try
        {
            while (chunker.Next(block))
            {
                reader.Reset(block.Buffer, block.Length, block.FirstLine);
                while (reader.ReadRow())
                {
                    rows.Add(Current(reader));
                }
            }
        }
        catch (CsvFormatException ex)
        {
            return (rows, ex.Message);
        }

        return (rows, null);
    }

    private static string RandomCsv(Random random, int rows, bool quotes)
    {
        var sb = new StringBuilder();
        for (var r = 0; r < rows; r++)
        {
            var fields = Enumerable.Range(0, random.Next(1, 12)).Select(_ =>
            {
                var length = random.Next(0, random.Next(2) == 0 ? 6 : 40);
                var text = new string(Enumerable.Range(0, length).Select(_ => "abc0123456789.-é"[random.Next(16)]).ToArray());
                return (quotes, random.Next(6)) switch
                {
                    (true, 0) => "\"" + text + ",\n\"\"x\r\n" + "\"",
                    (true, 1) => "q" + text + "\"" + text, // a literal quote inside an unquoted field
                    _ => text,
                };
            });
            sb.Append(string.Join(',', fields));
            sb.Append(random.Next(3) switch { 0 => "\r\n", 1 => "\n", _ => random.Next(4) == 0 ? "\n\n" : "\n" });
        }

        if (random.Next(2) == 0)
        {
            sb.Append("last,row,without,newline");
        }

        return sb.ToString();
    }

    [Theory]
    [InlineData(false, 7)]
    [InlineData(false, 64)]
    [InlineData(false, 1000)]
    [InlineData(true, 16)]
    [InlineData(true, 100)]
    [InlineData(true, 4096)]
    public void Blocks_of_any_size_give_the_rows_and_lines_of_one_sequential_reader(bool quotes, int blockBytes)
    {
        for (var seed = 0; seed < 5; seed++)
        {
            var bytes = Encoding.UTF8.GetBytes(RandomCsv(new Random(seed), 400, quotes));
            var expected = Sequential(bytes, 1 << 20);
            var actual = Blocked(bytes, 1 << 20, blockBytes, seed);

            Assert.Null(expected.Error);
            Assert.Null(actual.Error);
            Assert.Equal(expected.Rows.Count, actual.Rows.Count);
            for (var i = 0; i < expected.Rows.Count; i++)
            {
                Assert.Equal(expected.Rows[i], actual.Rows[i], (a, b) => a.Line == b.Line && a.Plain == b.Plain && a.Fields.SequenceEqual(b.Fields));
            }
        }
    }

    [Fact]
    public void Plain_rows_split_by_32_byte_blocks_match_a_naive_split_at_every_alignment()
    {
        // Delimiters, CR and LF land on every position of a 32-byte block, including its first and last byte.
        var random = new Random(11);
        for (var round = 0; round < 200; round++)
        {
            var lines = Enumerable.Range(0, 20).Select(_ =>
                string.Join(',', Enumerable.Range(0, random.Next(1, 15)).Select(_ => new string('x', random.Next(0, 9))))).ToArray();
            var crlf = random.Next(2) == 0;
            var text = new string('y', random.Next(1, 33)) + "\n" + string.Join(crlf ? "\r\n" : "\n", lines) + "\n";
            var (rows, error) = Sequential(Encoding.UTF8.GetBytes(text), 1 << 20);

            Assert.Null(error);
            var expected = text.Split('\n')[1..^1].Where(l => l.Length > 0 && l != "\r").Select(l => l.TrimEnd('\r').Split(',')).ToList();
            Assert.Equal(expected.Count, rows.Count - 1);
            for (var i = 0; i < expected.Count; i++)
            {
                Assert.Equal(expected[i], rows[i + 1].Fields);
                Assert.True(rows[i + 1].Plain);
            }
        }
    }

    [Theory]
    [InlineData("a,b\n1,2\n3,\"x\"y\n4,5\n6,\"unclosed\n")]
    [InlineData("a,b\n1,2\n3,4\n5,\"never closed\n7,8\n")]
    [InlineData("a,b\n1,\"ok\"\r\n2,\"bad\"\rx\n")]
    public void Malformed_files_fail_at_the_same_row_with_the_same_message(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var expected = Sequential(bytes, 1 << 20);
        foreach (var blockBytes in new[] { 4, 9, 1024 })
        {
            var actual = Blocked(bytes, 1 << 20, blockBytes, blockBytes);
            Assert.NotNull(expected.Error);
            Assert.Equal(expected.Error, actual.Error);
            Assert.Equal(expected.Rows.Count, actual.Rows.Count);
        }
    }

    private static string Rows(int from, int count) => string.Concat(Enumerable.Range(from, count).Select(i => $"{i},x{i}\n"));

    public static TheoryData<string, int, int> UnclosedQuotes => new()
    {
        // At the end of the file.
        { "a,b\n1,2\n3,\"never closed\n4,5\n", 3, 1 << 20 },
        { "a,b\r\n1,2\r\n3,\"never closed\r\n4,5\r\n", 3, 1 << 20 },
        // Closed much later by another field's opening quote.
        { "a,b\n1,\"ok\"\n3,\"Jane Roe\n" + Rows(4, 2_000) + "9,\"Smith, J\"\n", 3, 1 << 20 },
        { "a,b\n1,2\n3,\"never closed\n4,5\n6,\"x\"\n7,8\n", 3, 1 << 20 },
        // Opened on the second line of a row whose first field spans two lines.
        { "a,b\n1,\"a\nb\",\"open\n" + Rows(4, 200), 3, 1 << 20 },
        // Still open when the row passes the limit.
        { "a,b\n1,2\n3,\"open\n" + Rows(4, 2_000), 3, 2_000 },
        { "a,b\n1,\"a\nb\",\"open\n" + Rows(4, 2_000), 3, 2_000 },
    };

    [Theory]
    [MemberData(nameof(UnclosedQuotes))]
    public void An_unclosed_quote_is_reported_on_the_line_it_opened_by_the_reader_and_the_blocks_alike(string text, int quoteLine, int maxRow)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var expected = Sequential(bytes, maxRow);

        Assert.NotNull(expected.Error);
        Assert.StartsWith($"t.csv: line {quoteLine}: ", expected.Error);
        Assert.Contains("unterminated quote", expected.Error);
        Assert.DoesNotContain("Smith", expected.Error);
        Assert.DoesNotContain("Jane", expected.Error);
        foreach (var blockBytes in new[] { 4, 9, 64, 1024, 1 << 20 })
        {
            var actual = Blocked(bytes, maxRow, blockBytes, blockBytes);
            Assert.Equal(expected.Error, actual.Error);
            Assert.Equal(expected.Rows.Count, actual.Rows.Count);
        }
    }

    [Fact]
    public void A_row_over_the_limit_is_refused_with_its_line_whether_or_not_it_fits_in_a_block()
    {
        var text = "a,b\n1,2\n3," + new string('z', 500) + "\n5,6\n";
        var bytes = Encoding.UTF8.GetBytes(text);
        foreach (var blockBytes in new[] { 64, 4096 })
        {
            var (rows, error) = Blocked(bytes, 200, blockBytes, 3);
            Assert.Equal(2, rows.Count);
            Assert.Contains("line 3", error);
            Assert.Contains("longer than the limit of 200 bytes", error);
        }
    }

    private const string Contract = """
        {
          "contractVersion": "1.0.0", "partner": "acme", "dataset": "blocks",
          "file": { "delimiter": "," },
          "rules": { "minRows": 1, "maxRejectedShare": 1 },
          "missingTokens": ["", "NA"],
          "columns": [
            { "name": "id", "type": "integer", "role": "id", "nullable": false },
            { "name": "amount", "type": "float", "min": 0 },
            { "name": "count", "type": "integer", "min": 0, "max": 50, "sentinels": { "96": "missing", "98": "special" } },
            { "name": "grade", "type": "category", "allowed": ["A", "B", "C"] },
            { "name": "note", "type": "string" },
            { "name": "target", "type": "integer", "role": "target", "allowed": ["0", "1"] }
          ]
        }
        """;

    private static string Cell(Random random, int column, int row) => column switch
    {
        0 => row.ToString(System.Globalization.CultureInfo.InvariantCulture),
        1 => random.Next(8) switch { 0 => "NA", 1 => "", 2 => "007.50", 3 => "1e3", 4 => "-1", 5 => "0.10", _ => (random.NextDouble() * 1000).ToString("0.###", System.Globalization.CultureInfo.InvariantCulture) },
        2 => random.Next(8) switch { 0 => "96", 1 => "98", 2 => "07", 3 => "51", 4 => "", _ => random.Next(0, 20).ToString(System.Globalization.CultureInfo.InvariantCulture) },
        3 => random.Next(6) switch { 0 => "D", 1 => "", _ => "ABC"[random.Next(3)].ToString() },
        4 => random.Next(6) switch { 0 => "\"quoted, with comma\"", 1 => "cr\rinside", 2 => "", 3 => "=SUM(A1)", _ => "plain text" },
        _ => random.Next(10) == 0 ? "2" : random.Next(2).ToString(System.Globalization.CultureInfo.InvariantCulture),
    };

    private async Task<(IngestOutcome Outcome, string Curated, string Rejected)> IngestAsync(string csv, string runId, int workers, int blockBytes)
    {
        // One folder per run: the same bytes ingested twice into one store would be a duplicate.
        var dir = Path.Combine(_dir, runId);
        var contract = DatasetContract.Parse(Encoding.UTF8.GetBytes(Contract), "contracts/acme/blocks.json");
        var outcome = await IngestEngine.RunAsync(new MemoryStream(Encoding.UTF8.GetBytes(csv)), "inbox-acme/blocks/file.csv", contract, StorageName.Run("run"), new FolderRunOutput(dir),
            new IngestOptions { Workers = workers, BlockBytes = blockBytes });
        var curated = outcome.Manifest is { } m ? string.Concat(m.Parts.Select(p => File.ReadAllText(Path.Combine(dir, p.Path)).Split('\n', 2)[1])) : string.Empty;
        var rejected = outcome.ReportPath is { } r && File.Exists(Path.Combine(dir, Path.GetDirectoryName(r)!, "rejected.csv"))
            ? File.ReadAllText(Path.Combine(dir, Path.GetDirectoryName(r)!, "rejected.csv"))
            : string.Empty;
        return (outcome, curated, rejected);
    }

    [Fact]
    public async Task Many_small_blocks_on_several_workers_give_the_rows_numbers_and_output_of_one_block_on_one_worker()
    {
        var random = new Random(3);
        var header = "id,amount,count,grade,note,target";
        var rows = Enumerable.Range(1, 3_000).Select(r => string.Join(',', Enumerable.Range(0, 6).Select(c => Cell(random, c, r))));
        var csv = header + "\r\n" + string.Join("\r\n", rows) + "\r\n";

        var single = await IngestAsync(csv, "single", workers: 1, blockBytes: 1 << 22);
        var blocked = await IngestAsync(csv, "blocked", workers: 3, blockBytes: 512);

        Assert.Equal(IngestState.Curated, single.Outcome.State);
        Assert.Equal(IngestState.Curated, blocked.Outcome.State);
        Assert.Equal(single.Outcome.Manifest!.Rows.Rejected, blocked.Outcome.Manifest!.Rows.Rejected);
        Assert.Equal(single.Curated, blocked.Curated);
        Assert.Equal(single.Rejected, blocked.Rejected);
        Assert.True(single.Outcome.Manifest.Rows.Rejected > 100);
        Assert.Equal(single.Outcome.Manifest.Profile["amount"]!.Count, blocked.Outcome.Manifest.Profile["amount"]!.Count);
        Assert.Equal(single.Outcome.Manifest.Profile["count"]!.Nulls, blocked.Outcome.Manifest.Profile["count"]!.Nulls);
        Assert.True(blocked.Outcome.Manifest.Profile["amount"]!.Count > 1_000);
    }

    [Fact]
    public async Task Rows_copied_whole_read_the_same_as_rows_written_field_by_field()
    {
        // The same rows with the file's columns in another order: no row can be copied whole, every field is
        // written by the formatter. The curated text must not differ.
        var random = new Random(9);
        var cells = Enumerable.Range(1, 2_000).Select(r => Enumerable.Range(0, 6).Select(c => Cell(random, c, r)).ToArray()).ToList();
        var inOrder = "id,amount,count,grade,note,target\n" + string.Join("\n", cells.Select(c => string.Join(',', c))) + "\n";
        int[] order = [5, 3, 0, 4, 2, 1];
        var shuffled = "target,grade,id,note,count,amount\n" + string.Join("\n", cells.Select(c => string.Join(',', order.Select(i => c[i])))) + "\n";

        var whole = await IngestAsync(inOrder, "whole", workers: 2, blockBytes: 4096);
        var fieldwise = await IngestAsync(shuffled, "fieldwise", workers: 2, blockBytes: 4096);

        Assert.Equal(IngestState.Curated, whole.Outcome.State);
        Assert.Equal(fieldwise.Curated, whole.Curated);
        Assert.Equal(fieldwise.Outcome.Manifest!.Rows, whole.Outcome.Manifest!.Rows);
        Assert.Contains("\"cr\rinside\"", whole.Curated);
        Assert.Contains(",7.5,", whole.Curated);
    }

    [Fact]
    public async Task The_first_malformed_row_in_file_order_is_the_one_reported_whatever_the_workers_finish_first()
    {
        var lines = Enumerable.Range(1, 4_000).Select(r => $"{r},1.5,3,A,ok,0").ToList();
        lines[1_999] = "2000,1.5,3,A,\"bad\"x,0";
        lines[3_499] = "3500,1.5,3,A,\"also bad\"y,0";
        var csv = "id,amount,count,grade,note,target\n" + string.Join("\n", lines) + "\n";

        var outcome = (await IngestAsync(csv, "malformed", workers: 3, blockBytes: 300)).Outcome;

        Assert.Equal(IngestState.Rejected, outcome.State);
        Assert.Equal("malformed", outcome.Report!.Rule);
        Assert.Contains("line 2001", outcome.Message);
        Assert.Contains("field 5", outcome.Message);
        Assert.DoesNotContain("'x'", outcome.Message);
    }

    /// <summary>Returns the bytes in reads of random small sizes, as a network stream may.</summary>
    private sealed class TrickleStream(byte[] bytes, int seed) : ReadOnlyStream
    {
        private readonly Random _random = new(seed);
        private int _position;

        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(Math.Min(count, bytes.Length - _position), _random.Next(1, 50));
            bytes.AsSpan(_position, n).CopyTo(buffer.AsSpan(offset));
            _position += n;
            return n;
        }
    }
}
