using System.Text;
using FinServerless.Datasets.Ingest;
using FinServerless.Datasets.Output;

namespace FinServerless.Datasets.Tests;

/// <summary>The one reader of curated rows that training, batch scoring, the HTTP scorer and the benchmarks share.</summary>
public sealed class CuratedPartReaderTests
{
    private static byte[] Csv(string text) => Encoding.UTF8.GetBytes(text);

    [Fact]
    public void Reads_features_by_name_in_the_asked_order_empty_cells_imputed_or_NaN_and_the_target()
    {
        using var reader = new CuratedPartReader(Csv("id,b,a,y\n1,2.5,,1\n2,,7,0\n"), "part", ["a", "b"], [3.0, null], target: "y");
        var row = new float[2];

        Assert.True(reader.ReadRow(row));
        Assert.Equal([3f, 2.5f], row);
        Assert.Equal(1f, reader.Label);
        Assert.Equal("1", Encoding.UTF8.GetString(reader[reader.Position("id")]));
        Assert.True(reader.ReadRow(row));
        Assert.Equal(7f, row[0]);
        Assert.True(float.IsNaN(row[1]));
        Assert.Equal(0f, reader.Label);
        Assert.False(reader.ReadRow(row));
    }

    [Fact]
    public void Bad_rows_name_the_source_line_and_column_never_the_value()
    {
        var row = new float[1];
        using (var text = new CuratedPartReader(Csv("a\nsecret-value\n"), "Curated part p", ["a"]))
        {
            var error = Assert.Throws<CuratedDataException>(() => text.ReadRow(row));
            Assert.Equal("Curated part p, line 2: feature 'a' is not a number; models take numeric features (encode categories in the dataset contract).", error.Message);
        }

        using (var label = new CuratedPartReader(Csv("a,y\n1,2\n"), "p", ["a"], target: "y"))
        {
            Assert.Contains("p, line 2: target 'y' is 2; a binary classifier needs 0 or 1", Assert.Throws<CuratedDataException>(() => label.ReadRow(row)).Message);
        }

        using (var missing = new CuratedPartReader(Csv("a,y\n1,\n"), "p", ["a"], target: "y"))
        {
            Assert.Contains("target 'y' is missing or not a number", Assert.Throws<CuratedDataException>(() => missing.ReadRow(row)).Message);
        }

        Assert.Equal("p has no column 'b'.", Assert.Throws<CuratedDataException>(() => new CuratedPartReader(Csv("a\n1\n"), "p", ["b"])).Message);
        Assert.Equal("p is empty (no header).", Assert.Throws<CuratedDataException>(() => new CuratedPartReader([], "p", ["b"])).Message);
    }

    [Fact]
    public void A_part_whose_bytes_changed_after_the_commit_is_refused()
    {
        var bytes = Csv("a\n1\n");
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes));
        Assert.Same(bytes, CuratedPartReader.Verified(bytes, new RunPart("curated/p/d/r/part-00000.csv", 1, bytes.Length, sha)));
        var error = Assert.Throws<CuratedDataException>(() => CuratedPartReader.Verified(Csv("a\n2\n"), new RunPart("curated/p/d/r/part-00000.csv", 1, bytes.Length, sha)));
        Assert.Contains("was modified after it was committed", error.Message);
    }
}
