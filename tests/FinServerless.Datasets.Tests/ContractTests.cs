using System.Text;
using FinServerless.Datasets.Contracts;
using FinServerless.Native;

namespace FinServerless.Datasets.Tests;

public sealed class ContractTests
{
    private static string Sample(string dataset) => Path.Combine(RepositoryLayout.Root, "samples", dataset, "contract.json");

    [Fact]
    public void The_sample_contracts_load()
    {
        var taiwan = DatasetContract.Load(Sample("taiwan-credit"));
        var gmsc = DatasetContract.Load(Sample("give-me-some-credit"));

        Assert.Equal(25, taiwan.Columns.Count);
        Assert.Equal("default_next_month", taiwan.Columns[^1].EffectiveOutputName);
        Assert.Equal("id", gmsc.Columns[0].EffectiveOutputName);
        Assert.Equal(SentinelMeaning.Missing, gmsc.Columns[4].Sentinels!["98"]);
    }

    [Fact]
    public void The_JSON_schema_ships_with_the_library_and_lists_every_type()
    {
        using var stream = typeof(DatasetContract).Assembly.GetManifestResourceStream("dataset-contract.schema.json")!;
        var schema = new StreamReader(stream).ReadToEnd();

        foreach (var type in Enum.GetNames<ColumnType>())
        {
            Assert.Contains($"\"{type.ToLowerInvariant()}\"", schema);
        }
    }

    [Theory]
    [InlineData("""{"contractVersion":"1","partner":"p","dataset":"d","columns":[{"name":"a","type":"integr"}]}""", "line 1")]
    [InlineData("""{"contractVersion":"1","partner":"p","dataset":"d","columns":[{"name":"a","type":"integer","colour":"red"}]}""", "colour")]
    [InlineData("""{"contractVersion":"1","partner":"p","dataset":"d","columns":[{"name":"a","type":"float","min":5,"max":1}]}""", "column 'a': min 5 is greater than max 1")]
    [InlineData("""{"contractVersion":"1","partner":"p","dataset":"d","columns":[{"name":"a","type":"category","allowed":[]}]}""", "column 'a': 'allowed' is empty")]
    [InlineData("""{"contractVersion":"1","partner":"p","dataset":"d","columns":[{"name":"a","type":"category","normalize":{"encode":"ordinal"}}]}""", "column 'a': normalize.encode 'ordinal' needs the 'allowed' values")]
    [InlineData("""{"contractVersion":"1","partner":"p","dataset":"d","columns":[{"name":"a","type":"category","allowed":["x"],"topCategories":5}]}""", "column 'a': topCategories 5 applies to an open category column")]
    [InlineData("""{"contractVersion":"1","partner":"p","dataset":"d","columns":[{"name":"a","type":"date","normalize":{"encode":"monthsSince"}}]}""", "column 'a': normalize.encode 'monthsSince' applies to date columns and needs normalize.referenceDate")]
    [InlineData("""{"contractVersion":"1","partner":"p","dataset":"d","columns":[{"name":"a","type":"float","normalize":{"encode":"monthsSince","referenceDate":"2026-01-01"}}]}""", "column 'a': normalize.encode 'monthsSince' applies to date columns")]
    [InlineData("""{"contractVersion":"1","partner":"p","dataset":"d","columns":[{"name":"a","type":"date","sentinels":{"9999-12-31":"special"},"normalize":{"encode":"monthsSince","referenceDate":"2026-01-01"}}]}""", "column 'a': a date encoded as monthsSince is a number of months; its sentinels can only mean 'missing'")]
    [InlineData("""{"contractVersion":"1","partner":"p","dataset":"d","columns":[{"name":"s","type":"category","role":"feature","targetValues":{"positive":["x"],"negative":["y"]}}]}""", "column 's': targetValues applies to the column with role 'target'")]
    [InlineData("""{"contractVersion":"1","partner":"p","dataset":"d","columns":[{"name":"s","type":"category","role":"target","targetValues":{"positive":["x"],"negative":[]}}]}""", "column 's': targetValues needs at least one 'positive'")]
    [InlineData("""{"contractVersion":"1","partner":"p","dataset":"d","columns":[{"name":"s","type":"category","role":"target","targetValues":{"positive":["x"],"negative":["y"],"drop":["x"]}}]}""", "column 's': targetValues lists 'x' more than once")]
    [InlineData("""{"contractVersion":"1","partner":"p","dataset":"d","columns":[{"name":"s","type":"category","role":"target","allowed":["x","y"],"targetValues":{"positive":["x"],"negative":["z"]}}]}""", "column 's': targetValues lists 'z', which is not among its 'allowed' values")]
    [InlineData("""{"contractVersion":"1","partner":"p","dataset":"d","columns":[{"name":"s","type":"float","role":"target","targetValues":{"positive":["1"],"negative":["0"]}}]}""", "column 's': targetValues maps the values of a category, string or integer column")]
    [InlineData("""{"contractVersion":"1","partner":"p","dataset":"d","columns":[{"name":"a","type":"float"},{"name":"a","type":"float"}]}""", "column 'a' is listed twice")]
    [InlineData("""{"contractVersion":"1","partner":"p","dataset":"d","columns":[{"name":"","type":"integer"}]}""", "needs an 'outputName'")]
    [InlineData("""{"contractVersion":"1","partner":"p","dataset":"d","file":{"delimiter":";;"},"columns":[{"name":"a","type":"float"}]}""", "file.delimiter")]
    [InlineData("""{"contractVersion":"1","partner":"p","dataset":"d","columns":[{"name":"a","type":"float","normalize":{"scale":"standard"}}]}""", "reference.mean")]
    [InlineData("""{"partner":"p","dataset":"d","columns":[]}""", "contractVersion")]
    public void A_bad_contract_is_refused_with_what_to_fix(string json, string expected)
    {
        var error = Assert.Throws<ContractException>(() => DatasetContract.Parse(Encoding.UTF8.GetBytes(json), "contracts/p/d.json"));

        Assert.Contains("contracts/p/d.json", error.Message);
        Assert.Contains(expected, error.Message);
    }
}
