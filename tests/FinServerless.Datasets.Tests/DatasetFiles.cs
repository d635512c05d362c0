using FinServerless.Datasets.Contracts;
using FinServerless.Native;

namespace FinServerless.Datasets.Tests;

/// <summary>Where test data lives: samples in the repository, licensed datasets in ../shared (CI only).</summary>
internal static class DatasetFiles
{
    public static string TaiwanCsv => Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "UCI_Credit_Card.csv");

    public static DatasetContract TaiwanContract => DatasetContract.Load(Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "contract.json"));

    public static DatasetContract GmscContract => DatasetContract.Load(Path.Combine(RepositoryLayout.Root, "samples", "give-me-some-credit", "contract.json"));

    public static string? GmscTraining(out string reason) => FinServerless.Testing.SharedDatasets.GmscTraining(out reason);
}
