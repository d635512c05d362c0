using System.Text.Json;
using FinServerless.Contracts;
using FinServerless.Datasets.Profiling;
using FinServerless.Scoring;
using Microsoft.Azure.Functions.Worker;

namespace FinServerless.Functions.Functions;

/// <summary>The activities of RescorePortfolio.</summary>
public sealed class RescoreActivities(AppServices app)
{
    /// <summary>Plans the rescoring once: for each champion (of the requested models), the newest curated run of the dataset it was trained on.</summary>
    [Function("PlanRescore")]
    public async Task<RescorePlan> PlanAsync([ActivityTrigger] RescoreInput input, CancellationToken cancellationToken)
    {
        var items = new List<RescoreItem>();
        var skipped = new List<RescoreSkip>();
        await foreach (var blob in app.ListAsync(StorageLayout.ModelsContainer, null, cancellationToken).ConfigureAwait(false))
        {
            var parts = blob.Name.Split('/');
            if (parts is not [var modelName, StorageLayout.ChampionFile] || !StorageName.TryParse(NameKind.Model, modelName, out var name, out _))
            {
                continue;
            }

            if (input.Models is { Count: > 0 } wanted && !wanted.Contains(name.Value))
            {
                continue;
            }

            var champion = (await app.Models.GetChampionAsync(name, cancellationToken).ConfigureAwait(false))!;
            var manifest = await app.Models.ReadManifestAsync(ModelReference.ChampionOf(name), cancellationToken).ConfigureAwait(false);
            if (manifest.Lineage is null || !manifest.Lineage.TryDataset(out var partner, out var dataset))
            {
                skipped.Add(new RescoreSkip(champion.Model, champion.Version, null, null, "the champion's manifest names no valid partner/dataset in its lineage"));
                continue;
            }

            if (await app.LatestRunAsync(partner, dataset, cancellationToken).ConfigureAwait(false) is not { } latest)
            {
                skipped.Add(new RescoreSkip(champion.Model, champion.Version, partner.Value, dataset.Value, "no curated run"));
                continue;
            }

            try
            {
                BatchScorer.CheckFeatures(latest.Run, manifest);
            }
            catch (ModelException ex)
            {
                skipped.Add(new RescoreSkip(champion.Model, champion.Version, partner.Value, dataset.Value, ex.Message));
                continue;
            }

            var run = latest.Run;
            items.Add(new RescoreItem(
                partner.Value, dataset.Value, run.RunId, latest.Path, latest.ManifestSha256, manifest.Name, manifest.Version, manifest.Onnx.Sha256,
                [.. run.IdColumns], [.. run.Parts.Select((p, i) => p with { Path = run.PartPath(i) })]));
        }

        return new RescorePlan(items, skipped);
    }

    /// <summary>Scores one part of a run: reads that part only, with the planned model version (whose ONNX file must still be the planned one).</summary>
    [Function("ScorePartition")]
    public async Task<ScoredPart> ScorePartitionAsync([ActivityTrigger] PartitionWork work, CancellationToken cancellationToken)
    {
        var model = await app.LoadModelAsync(ModelReference.Parse(work.Model), cancellationToken).ConfigureAwait(false);
        if (model.Manifest.Onnx.Sha256 != work.ModelSha256)
        {
            throw new InvalidDataException($"Model {work.Model} has ONNX SHA-256 {model.Manifest.Onnx.Sha256}, not the {work.ModelSha256} the rescoring was planned with.");
        }

        return await BatchScorer.ScorePartAsync(work.Part, app.Store, model, app.ScoreOptions, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Commits each score run and writes the summary with drift against each champion's training profile.</summary>
    [Function("CommitRescore")]
    public async Task<RescoreSummary> CommitAsync([ActivityTrigger] RescoreCommit commit, CancellationToken cancellationToken)
    {
        var runs = new List<RescoredRun>();
        for (var i = 0; i < commit.Plan.Items.Count; i++)
        {
            var item = commit.Plan.Items[i];
            var (_, run, sha) = await app.ReadCommittedRunAsync(item.RunManifest, cancellationToken).ConfigureAwait(false);
            if (sha != item.ManifestSha256)
            {
                throw new InvalidDataException($"The curated manifest {item.RunManifest} has SHA-256 {sha}, not the {item.ManifestSha256} the rescoring was planned with.");
            }

            var model = await app.Models.ReadManifestAsync(ModelReference.Of(StorageName.Model(item.Model), StorageName.Version(item.Version)), cancellationToken).ConfigureAwait(false);
            var outcome = await BatchScorer.CommitAsync(run, item.RunManifest, app.Store, model, commit.Parts[i], 0, app.ScoreOptions, cancellationToken).ConfigureAwait(false);

            IReadOnlyList<FeatureDrift> drift = [];
            if (model.Lineage?.CuratedManifest is { } trainingRun)
            {
                try
                {
                    var reference = (await app.ReadRunAsync(trainingRun, cancellationToken).ConfigureAwait(false)).Profile;
                    drift = Drift.BetweenProfiles(reference, run.Profile, model.Features.Select(f => f.Name));
                }
                catch (Exception ex) when (ex is InvalidNameException or RunNotFoundException)
                {
                    // The training run is gone or not a curated run path: drift is unknown.
                }
            }

            runs.Add(new RescoredRun(item.Partner, item.Dataset, item.RunId, model.Id, outcome.Manifest.Rows, outcome.ManifestPath, outcome.Manifest.Bands,
                drift.Count == 0 ? "unknown" : Drift.Band(drift.Max(d => d.Psi)), drift));
        }

        var path = StorageLayout.RescoreSummary(commit.InstanceId);
        var summary = new RescoreSummary(commit.InstanceId, DateTimeOffset.UtcNow, path, runs, commit.Plan.Skipped);
        await app.Store.WriteAsync(path, JsonSerializer.SerializeToUtf8Bytes(summary, ModelManifest.JsonOptions), "application/json", createOnly: false, cancellationToken).ConfigureAwait(false);
        return summary;
    }
}
