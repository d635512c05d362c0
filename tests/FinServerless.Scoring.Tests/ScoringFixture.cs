using System.Globalization;
using FinServerless.Contracts;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Native;
using FinServerless.Onnx.Writer;
using FinServerless.XGBoost;

namespace FinServerless.Scoring.Tests;

/// <summary>A curated Taiwan run in a temporary folder, shared by the scoring tests.</summary>
public sealed class ScoringFixture : IAsyncLifetime
{
    public string Root { get; } = Directory.CreateTempSubdirectory("fs-score-").FullName;

    public FolderRunOutput Store => new(Root);

    public RunManifest Run { get; private set; } = null!;

    public string RunManifestPath { get; private set; } = string.Empty;

    public IReadOnlyList<string> Features => Run.Columns.Where(c => c != "ID" && c != Run.TargetColumn).ToList();

    /// <summary>The curated rows: ids, features, labels.</summary>
    public (string[] Ids, float[] Features, float[] Labels) Table()
    {
        var ids = new List<string>();
        var values = new List<float>();
        var labels = new List<float>();
        foreach (var part in Run.Parts)
        {
            var lines = File.ReadAllLines(Path.Combine(Root, part.Path));
            var header = lines[0].Split(',');
            var positions = Features.Select(f => Array.IndexOf(header, f)).ToArray();
            var target = Array.IndexOf(header, Run.TargetColumn);
            foreach (var line in lines.Skip(1))
            {
                var cells = line.Split(',');
                ids.Add(cells[0]);
                values.AddRange(positions.Select(p => cells[p].Length == 0 ? float.NaN : float.Parse(cells[p], CultureInfo.InvariantCulture)));
                labels.Add(float.Parse(cells[target], CultureInfo.InvariantCulture));
            }
        }

        return (ids.ToArray(), values.ToArray(), labels.ToArray());
    }

    /// <summary>An XGBoost model (depth 4) trained through its C API on the curated rows, exported to ONNX, and what XGBoost predicts for those rows.</summary>
    public (byte[] Onnx, float[] Expected) Trees(int rounds = 30)
    {
        var (ids, x, y) = Table();
        using var train = new DMatrix(x, ids.Length, Features.Count, y);
        using var booster = new Booster(train).SetParameter("objective", "binary:logistic").SetParameter("max_depth", 4).SetParameter("eta", 0.3).SetParameter("nthread", 2);
        for (var i = 0; i < rounds; i++)
        {
            booster.UpdateOneIteration(i, train);
        }

        using var fresh = new DMatrix(x, ids.Length, Features.Count);
        return (XGBoostTreeExport.Convert(booster.SaveJson(), Features), booster.Predict(fresh));
    }

    public async Task InitializeAsync()
    {
        var contract = DatasetContract.Load(Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "contract.json"));
        await using var input = File.OpenRead(Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "UCI_Credit_Card.csv"));
        var outcome = await IngestEngine.RunAsync(input, "UCI_Credit_Card.csv", contract, StorageName.Run("r-scoring"), Store, new IngestOptions { PartBytes = 1 << 20 });
        Run = outcome.Manifest!;
        RunManifestPath = outcome.ManifestPath!;
    }

    public Task DisposeAsync()
    {
        Directory.Delete(Root, recursive: true);
        return Task.CompletedTask;
    }
}
