using FinServerless.Contracts;
using FinServerless.Datasets.Ingest;

namespace FinServerless.Datasets.Tests;

/// <summary>Limits per file and the settings hosts map onto them.</summary>
public sealed class IngestOptionsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fs-options-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private async Task<IngestOutcome> IngestTaiwanAsync(string name, IngestOptions options)
    {
        await using var input = File.OpenRead(DatasetFiles.TaiwanCsv);
        return await IngestEngine.RunAsync(input, name, DatasetFiles.TaiwanContract, StorageName.Run("r-" + name), new FolderRunOutput(Path.Combine(_dir, name)), options with { BlockBytes = 64 * 1024 });
    }

    [Fact]
    public async Task A_file_over_MaxRows_is_rejected_naming_the_limit_and_one_at_the_limit_is_curated()
    {
        var over = await IngestTaiwanAsync("over", new IngestOptions { MaxRows = 1_000 });
        var exact = await IngestTaiwanAsync("exact", new IngestOptions { MaxRows = 30_000 });

        Assert.Equal(IngestState.Rejected, over.State);
        Assert.Equal("max_rows", over.Report!.Rule);
        Assert.Contains("over: more than 1,000 data rows", over.Message);
        Assert.Contains("IngestOptions.MaxRows", over.Message);
        Assert.Contains("FINSERVERLESS_INGEST_MAX_ROWS", over.Message);
        Assert.InRange(over.Report.Rows.Read, 1_001, 5_000);
        Assert.False(Directory.Exists(Path.Combine(_dir, "over", "curated", "demo", "taiwan-credit", "r-over")), "nothing curated");
        Assert.Equal(IngestState.Curated, exact.State);
        Assert.Equal(30_000, exact.Manifest!.Rows.Read);
    }

    [Fact]
    public void Defaults_are_50_GiB_200_to_1_and_100_million_rows()
    {
        var options = new IngestOptions();

        Assert.Equal(50L * 1024 * 1024 * 1024, options.MaxDecompressedBytes);
        Assert.Equal(200, options.MaxExpansionRatio);
        Assert.Equal(100_000_000, options.MaxRows);
    }

    [Fact]
    public void Settings_override_the_limits_they_set_and_leave_the_others()
    {
        var settings = new Dictionary<string, string>
        {
            [IngestSettings.MaxDecompressedBytes] = "1073741824",
            [IngestSettings.MaxExpansionRatio] = "500.5",
        };

        var options = IngestSettings.Apply(new IngestOptions { Workers = 1 }, settings.GetValueOrDefault);

        Assert.Equal("FINSERVERLESS_INGEST_MAX_DECOMPRESSED_BYTES", IngestSettings.MaxDecompressedBytes);
        Assert.Equal("FINSERVERLESS_INGEST_MAX_EXPANSION_RATIO", IngestSettings.MaxExpansionRatio);
        Assert.Equal("FINSERVERLESS_INGEST_MAX_ROWS", IngestSettings.MaxRows);
        Assert.Equal(1L << 30, options.MaxDecompressedBytes);
        Assert.Equal(500.5, options.MaxExpansionRatio);
        Assert.Equal(IngestOptions.DefaultMaxRows, options.MaxRows);
        Assert.Equal(1, options.Workers);
        Assert.Equal(32 * 1024 * 1024, options.PartBytes);
        Assert.Equal(256 * 1024, IngestSettings.Apply(new IngestOptions(), n => n == IngestSettings.PartBytes ? "262144" : null).PartBytes);
    }

    [Theory]
    [InlineData(IngestSettings.MaxDecompressedBytes, "50GiB")]
    [InlineData(IngestSettings.MaxDecompressedBytes, "0")]
    [InlineData(IngestSettings.MaxExpansionRatio, "0.5")]
    [InlineData(IngestSettings.MaxExpansionRatio, "lots")]
    [InlineData(IngestSettings.MaxRows, "-1")]
    [InlineData(IngestSettings.PartBytes, "1024")]
    [InlineData(IngestSettings.PartBytes, "1GiB")]
    public void A_bad_setting_is_named_in_the_error(string name, string value)
    {
        var error = Assert.Throws<ArgumentException>(() => IngestSettings.Apply(new IngestOptions(), n => n == name ? value : null));

        Assert.Contains(name, error.Message);
        Assert.Contains($"'{value}'", error.Message);
    }

    [Fact]
    public void Options_refuse_limits_that_would_reject_everything_naming_the_setting()
    {
        Assert.Contains(IngestSettings.MaxRows, Assert.Throws<ArgumentOutOfRangeException>(() => new IngestOptions { MaxRows = 0 }).Message);
        Assert.Contains(IngestSettings.MaxExpansionRatio, Assert.Throws<ArgumentOutOfRangeException>(() => new IngestOptions { MaxExpansionRatio = 0 }).Message);
        Assert.Contains(IngestSettings.MaxDecompressedBytes, Assert.Throws<ArgumentOutOfRangeException>(() => new IngestOptions { MaxDecompressedBytes = -1 }).Message);
    }
}
