using System.Text.Json;
using FinServerless.Contracts;
using Microsoft.Azure.Functions.Worker;
using FinServerless.Datasets.Ingest;
using FinServerless.Datasets.Profiling;
using FinServerless.Scoring;

namespace FinServerless.Functions.Functions;

/// <summary>The activities of RescorePortfolio.</summary>
public sealed class RescoreActivities(AppServices app)
{
    /// <summary>For each champion (of the requested models), the newest curated run of the dataset it was trained on.</summary>
    [Function("ListLatestRuns")]
    public async Task<List<RescoreItem>> ListLatestRunsAsync([ActivityTrigger] RescoreInput input, CancellationToken cancellationToken)
    {
        var items = new List<RescoreItem>();
        await foreach (var blob in app.ListAsync(StorageLayout.ModelsContainer, null, cancellationToken).ConfigureAwait(false))
        {
            var parts = blob.Name.Split('/');
            if (parts is not [var modelName, "champion.json"] || !StorageName.TryParse(NameKind.Model, modelName, out var name, out _))
            {
                continue;
            }

            if (input.Models is { Count: > 0 } wanted && !wanted.Contains(name.Value))
            {
                continue;
            }

            var champion = (await app.Models.GetChampionAsync(name, cancellationToken).ConfigureAwait(false))!;
            var manifest = await app.Models.ReadManifestAsync(ModelReference.ChampionOf(name), cancellationToken).ConfigureAwait(false);
            if (!StorageName.TryParse(NameKind.Partner, manifest.Lineage?.GetValueOrDefault("partner"), out var partner, out _)
                || !StorageName.TryParse(NameKind.Dataset, manifest.Lineage?.GetValueOrDefault("dataset"), out var dataset, out _))
            {
                items.Add(new RescoreItem(string.Empty, string.Empty, string.Empty, string.Empty, champion.Model, champion.Version, 0, "the champion's manifest names no valid partner/dataset in its lineage"));
                continue;
            }

            var latest = await app.LatestRunAsync(partner, dataset, cancellationToken).ConfigureAwait(false);
            if (latest is not { } found)
            {
                items.Add(new RescoreItem(string.Empty, partner.Value, dataset.Value, string.Empty, champion.Model, champion.Version, 0, "no curated run"));
                continue;
            }

            items.Add(new RescoreItem(found.Path, partner.Value, dataset.Value, found.Run.RunId, champion.Model, champion.Version, found.Run.Parts.Count));
        }

        return items;
    }

    /// <summary>Scores one part of a run.</summary>
    [Function("ScorePartition")]
    public async Task<ScoredPart> ScorePartitionAsync([ActivityTrigger] PartitionWork work, CancellationToken cancellationToken)
    {
        var run = await app.ReadRunAsync(work.RunManifest, cancellationToken).ConfigureAwait(false);
        var model = await app.LoadModelAsync(ModelReference.Parse(work.Model), cancellationToken).ConfigureAwait(false);
        return await BatchScorer.ScorePartAsync(run, work.Part, app.Store, model, new ScoreOptions { Bands = app.Bands }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Commits each score run and writes the summary with drift against each champion's training profile.</summary>
    [Function("CommitRescore")]
    public async Task<RescoreSummary> CommitAsync([ActivityTrigger] RescoreCommit commit, CancellationToken cancellationToken)
    {
        var runs = new List<RescoredRun>();
        var work = commit.Items.Where(i => i.Skipped is null).ToList();
        for (var i = 0; i < work.Count; i++)
        {
            var item = work[i];
            var run = await app.ReadRunAsync(item.RunManifest, cancellationToken).ConfigureAwait(false);
            var model = await app.Models.ReadManifestAsync(ModelReference.Of(StorageName.Model(item.Model), StorageName.Version(item.Version)), cancellationToken).ConfigureAwait(false);
            var outcome = await BatchScorer.CommitAsync(run, item.RunManifest, app.Store, model, commit.Parts[i], 0, new ScoreOptions { Bands = app.Bands }, cancellationToken).ConfigureAwait(false);
            IReadOnlyList<FeatureDrift> drift = [];
            if (model.Lineage?.GetValueOrDefault("curatedManifest") is { } trainingRun)
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
        var summary = new RescoreSummary(commit.InstanceId, DateTimeOffset.UtcNow, path, runs, commit.Items.Where(i => i.Skipped is not null).ToList());
        await app.Store.WriteAsync(path, JsonSerializer.SerializeToUtf8Bytes(summary, ModelManifest.JsonOptions), "application/json", createOnly: false, cancellationToken).ConfigureAwait(false);
        return summary;
    }
}
