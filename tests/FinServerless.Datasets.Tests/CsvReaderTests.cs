using System.IO.Compression;
using System.Text;
using FinServerless.Datasets.Csv;

namespace FinServerless.Datasets.Tests;

public sealed class CsvReaderTests
{
    private static List<string[]> ReadAll(string text, int bufferSize = 4096, int maxRow = 1 << 20, byte delimiter = (byte)',')
    {
        using var reader = new CsvReader(new MemoryStream(Encoding.UTF8.GetBytes(text)), delimiter, maxRow, "test.csv", bufferSize);
        var rows = new List<string[]>();
        while (reader.ReadRow())
        {
            rows.Add(Enumerable.Range(0, reader.FieldCount).Select(i => Encoding.UTF8.GetString(reader[i])).ToArray());
        }

        return rows;
    }

    [Fact]
    public void Quoted_fields_keep_delimiters_newlines_and_doubled_quotes()
    {
        var rows = ReadAll("id,note\r\n1,\"a, b\"\r\n2,\"line1\nline2\"\r\n3,\"say \"\"hi\"\"\"\r\n4,\r\n");

        Assert.Equal(["id", "note"], rows[0]);
        Assert.Equal(["1", "a, b"], rows[1]);
        Assert.Equal(["2", "line1\nline2"], rows[2]);
        Assert.Equal(["3", "say \"hi\""], rows[3]);
        Assert.Equal(["4", ""], rows[4]);
    }

    [Fact]
    public void LF_and_CRLF_and_a_last_line_without_newline_all_work_and_blank_lines_are_skipped()
    {
        Assert.Equal(3, ReadAll("a,b\n1,2\n\n3,4").Count);
        Assert.Equal(["3", "4"], ReadAll("a,b\r\n1,2\r\n\r\n3,4")[2]);
        Assert.Equal(["x", ""], ReadAll("x,")[0]);
    }

    [Fact]
    public void Line_numbers_count_newlines_inside_quoted_fields()
    {
        using var reader = new CsvReader(new MemoryStream("h\n\"a\nb\nc\"\nnext\n"u8.ToArray()), (byte)',', 1024, "t.csv");
        reader.ReadRow();
        reader.ReadRow();
        Assert.Equal(2, reader.Line);
        reader.ReadRow();
        Assert.Equal(5, reader.Line);
    }

    [Fact]
    public void Rows_that_straddle_buffer_boundaries_parse_the_same_as_with_one_big_buffer()
    {
        var random = new Random(5);
        var sb = new StringBuilder();
        for (var r = 0; r < 2_000; r++)
        {
            var fields = Enumerable.Range(0, random.Next(1, 8)).Select(_ =>
            {
                var value = new string(Enumerable.Range(0, random.Next(0, 40)).Select(_ => "ab,\"\n x1é"[random.Next(9)]).ToArray());
                return value.IndexOfAny([',', '"', '\n']) >= 0 || value.Length == 0 ? "\"" + value.Replace("\"", "\"\"") + "\"" : value;
            });
            sb.Append(string.Join(',', fields)).Append(random.Next(2) == 0 ? "\n" : "\r\n");
        }

        var text = sb.ToString();
        var small = ReadAll(text, bufferSize: 4096);
        var big = ReadAll(text, bufferSize: 1 << 22);

        Assert.Equal(2_000, big.Count);
        Assert.Equal(big, small);
    }

    [Fact]
    public void A_semicolon_delimiter_is_honoured()
    {
        Assert.Equal(["1,5", "2"], ReadAll("1,5;2\n", delimiter: (byte)';')[0]);
    }

    [Fact]
    public void An_unterminated_quote_names_the_line()
    {
        var error = Assert.Throws<CsvFormatException>(() => ReadAll("a,b\n1,2\n3,\"never closed\n4,5\n"));

        Assert.Equal(3, error.Line);
        Assert.Contains("unterminated quote", error.Message);
        Assert.Contains("test.csv", error.Message);
    }

    [Fact]
    public void A_row_longer_than_the_cap_is_refused_without_reading_it_all()
    {
        var error = Assert.Throws<CsvFormatException>(() => ReadAll("a,b\n" + new string('x', 100_000) + "\n", maxRow: 10_000));

        Assert.Equal(2, error.Line);
        Assert.Contains("longer than the limit of 10,000 bytes", error.Message);
    }

    [Fact]
    public void Text_after_a_closing_quote_is_an_error_naming_the_field_without_quoting_the_text()
    {
        var error = Assert.Throws<CsvFormatException>(() => ReadAll("a,b\n1,\"x\"Secret,2\n"));

        Assert.Equal(2, error.Line);
        Assert.Contains("after a closing quote in field 2", error.Message);
        Assert.DoesNotContain("Secret", error.Message);
        Assert.DoesNotContain("'S'", error.Message);
    }

    [Fact]
    public void The_decoder_skips_a_UTF8_BOM_and_unpacks_gzip()
    {
        var bytes = new byte[] { 0xEF, 0xBB, 0xBF }.Concat("a,b\n1,2\n"u8.ToArray()).ToArray();
        var gz = new MemoryStream();
        using (var z = new GZipStream(gz, CompressionLevel.Fastest, leaveOpen: true))
        {
            z.Write(bytes);
        }

        gz.Position = 0;
        using var reader = new CsvReader(InputDecoder.Open(gz, "auto", "t.csv.gz"), (byte)',', 1024, "t.csv.gz");

        Assert.True(reader.ReadRow());
        Assert.Equal("a", Encoding.UTF8.GetString(reader[0]));
    }

    [Theory]
    [InlineData(new byte[] { 0xFF, 0xFE, (byte)'a', 0, (byte)',', 0 }, "UTF-16")]
    [InlineData(new byte[] { (byte)'a', 0, (byte)',', 0, (byte)'b', 0, (byte)'\n', 0 }, "UTF-16 without a byte-order mark")]
    [InlineData(new byte[] { 0x7F, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 3, 0, 62, 0, 1, 0, 0, 0, 64, 16, 64, 0, 0, 0, 0, 0 }, "binary data")]
    public void UTF16_and_binary_files_are_refused_with_the_reason(byte[] content, string expected)
    {
        var error = Assert.Throws<CsvFormatException>(() => InputDecoder.Open(new MemoryStream(content), "auto", "partner.csv"));

        Assert.Contains(expected, error.Message);
        Assert.Contains("partner.csv", error.Message);
    }

    [Fact]
    public void Invalid_UTF8_in_a_row_is_detected()
    {
        using var reader = new CsvReader(new MemoryStream([(byte)'a', (byte)',', 0xC3, 0x28, (byte)'\n']), (byte)',', 1024, "t.csv");

        Assert.True(reader.ReadRow());
        Assert.False(reader.RowIsValidUtf8);
    }
}
