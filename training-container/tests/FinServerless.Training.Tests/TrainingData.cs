using FinServerless.Contracts;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Native;

namespace FinServerless.Training.Tests;

/// <summary>Curated runs for the tests: the Taiwan sample (in the repository) and Give Me Some Credit (../shared, CI).</summary>
internal static class TrainingData
{
    public static string TaiwanCsv => Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "UCI_Credit_Card.csv");

    public static string? GmscTraining(out string reason) => FinServerless.Testing.SharedDatasets.GmscTraining(out reason);

    /// <summary>Ingests <paramref name="csv"/> with the sample contract <paramref name="sample"/> into <paramref name="store"/>; returns the manifest path.</summary>
    public static async Task<string> IngestAsync(IRunOutput store, string csv, string sample, string runId = "test")
    {
        var contract = DatasetContract.Load(Path.Combine(RepositoryLayout.Root, "samples", sample, "contract.json"));
        await using var input = File.OpenRead(csv);
        var outcome = await IngestEngine.RunAsync(input, csv, contract, StorageName.Run(runId), store);
        Assert.Equal(IngestState.Curated, outcome.State);
        return outcome.ManifestPath!;
    }

    /// <summary>Writes a CSV with <paramref name="header"/> and <paramref name="rows"/> to a temp file.</summary>
    public static string WriteCsv(string folder, string header, IEnumerable<string> rows)
    {
        var path = Path.Combine(folder, "input.csv");
        File.WriteAllLines(path, rows.Prepend(header));
        return path;
    }
}
