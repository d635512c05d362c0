using System.Globalization;
using System.Text.Json;
using FinServerless.Contracts;
using Microsoft.Azure.Functions.Worker;
using FinServerless.Functions.Jobs;
using FinServerless.Scoring;
using FinServerless.Training;
using FinServerless.Training.Data;
using FinServerless.Training.Evaluation;

namespace FinServerless.Functions.Functions;

/// <summary>The activities of TrainModel.</summary>
public sealed class TrainingActivities(AppServices app)
{
    /// <summary>Finds the newest curated run and fixes the model version and every setting of the job.</summary>
    [Function("PrepareTraining")]
    public async Task<PreparedTraining> PrepareAsync([ActivityTrigger] TrainModelInput input, CancellationToken cancellationToken)
    {
        TrainingOrchestration.Validate(input);
        var latest = await app.LatestRunAsync(StorageName.Partner(input.Partner), StorageName.Dataset(input.Dataset), cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"No curated run exists for partner '{input.Partner}' and dataset '{input.Dataset}'; ingest a file into inbox-{input.Partner}/{input.Dataset}/ first.");
        var (path, run) = latest;
        TrainingGuards.RequireTrainingRows(app, path, run.Rows.Accepted);
        var model = StorageName.Model(input.Model ?? $"{input.Dataset}-{input.Trainer}").Value;
        var version = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..6];
        return new PreparedTraining(
            path, run.RunId, run.Rows.Accepted, model, version, input.Trainer, input.Params?.ToJsonString(), input.Seed,
            app.Settings.Get(AppSettings.TrainingDevice) ?? "cpu", "holdout:0.2",
            input.TimeoutMinutes ?? app.Settings.Number(AppSettings.TrainingTimeoutMinutes, 120, 1),
            app.Settings.Number(AppSettings.TrainingPollSeconds, 30, 0.1),
            input.Rescore);
    }

    /// <summary>Starts the training container job with its whole contract in environment variables.</summary>
    [Function("DispatchTrainingJob")]
    public Task<string> DispatchAsync([ActivityTrigger] PreparedTraining job, CancellationToken cancellationToken)
    {
        var (model, version) = (StorageName.Model(job.Model), StorageName.Version(job.Version));
        var (partner, dataset, run) = StorageLayout.ParseCuratedManifest(job.RunManifest);
        var environment = new Dictionary<string, string>
        {
            ["FINSERVERLESS_TRAIN_INPUT"] = $"blob://{StorageLayout.CuratedManifest(partner, dataset, run)}",
            ["FINSERVERLESS_TRAIN_OUTPUT"] = $"blob://{StorageLayout.ModelVersion(model, version).TrimEnd('/')}",
            ["FINSERVERLESS_TRAIN_STATUS"] = $"blob://{StorageLayout.ModelFile(model, version, "status.json")}",
            ["FINSERVERLESS_TRAIN_TRAINER"] = job.Trainer,
            ["FINSERVERLESS_TRAIN_SEED"] = job.Seed.ToString(CultureInfo.InvariantCulture),
            ["FINSERVERLESS_TRAIN_VALIDATION"] = job.Validation,
            ["FINSERVERLESS_TRAIN_DEVICE"] = job.Device,
        };
        if (job.ParamsJson is not null)
        {
            environment["FINSERVERLESS_TRAIN_PARAMS"] = job.ParamsJson;
        }

        TrainingGuards.AddTrainerSettings(app, environment);

        return app.Jobs.StartAsync(new TrainingJobSpec($"{job.Model}-{job.Version}", environment), cancellationToken);
    }

    /// <summary>The job's state: the trainer's status blob decides how it ended; the dispatcher says whether it still runs.</summary>
    [Function("GetTrainingJobStatus")]
    public async Task<TrainingJobStatus> StatusAsync([ActivityTrigger] JobQuery query, CancellationToken cancellationToken)
    {
        var folder = StorageLayout.ModelVersion(StorageName.Model(query.Model), StorageName.Version(query.Version));
        string? state = null, line = null, reason = null;
        if (await app.Store.ReadAsync(folder + "status.json", cancellationToken).ConfigureAwait(false) is { } bytes)
        {
            using var status = JsonDocument.Parse(bytes);
            var root = status.RootElement;
            state = root.TryGetProperty("state", out var s) ? s.GetString() : null;
            line = root.TryGetProperty("line", out var l) ? l.GetString() : null;
            reason = root.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.Object && d.TryGetProperty("reason", out var r) ? r.GetString() : null;
        }

        if (state == "succeeded")
        {
            return new TrainingJobStatus(JobState.Succeeded, line, null);
        }

        if (state is "failed" or "cancelled")
        {
            return new TrainingJobStatus(JobState.Failed, line, reason ?? "the trainer reported failure");
        }

        var job = await app.Jobs.GetStateAsync(query.ExecutionId, cancellationToken).ConfigureAwait(false);
        return job.State switch
        {
            JobState.Running => new TrainingJobStatus(JobState.Running, line, job.Detail),
            JobState.Succeeded when await app.Store.ReadAsync(folder + "manifest.json", cancellationToken).ConfigureAwait(false) is not null => new TrainingJobStatus(JobState.Succeeded, line, null),
            _ => new TrainingJobStatus(JobState.Failed, line, $"{job.Detail ?? job.State}; the trainer left no final status in {folder}status.json"),
        };
    }

    /// <summary>Scores the candidate and the champion on the same held-out rows of the candidate's training run and decides.</summary>
    [Function("EvaluateCandidate")]
    public async Task<PromotionDecision> EvaluateAsync([ActivityTrigger] PreparedTraining job, CancellationToken cancellationToken)
    {
        var margin = app.Settings.Number(AppSettings.PromotionMargin, 0.002, 0);
        var candidateRef = ModelReference.Of(StorageName.Model(job.Model), StorageName.Version(job.Version));
        var candidate = await app.Models.ReadManifestAsync(candidateRef, cancellationToken).ConfigureAwait(false);
        var (table, _, _) = await TrainingTable.LoadAsync(app.Store, job.RunManifest, cancellationToken: cancellationToken).ConfigureAwait(false);
        var (holdout, _) = TrainingJob.ParseValidation(job.Validation);
        var (_, testRows) = Folds.Split(table.Y, Enumerable.Range(0, table.Rows).ToArray(), holdout, job.Seed);
        var test = table.Subset(testRows);
        var belowMinimum = TrainingGuards.PromotionMinimumNotMet(app, test, job.RunManifest);
        var candidateAuc = await AucAsync(candidate, test, cancellationToken).ConfigureAwait(false);

        var champion = await app.Models.GetChampionAsync(candidateRef.Model, cancellationToken).ConfigureAwait(false);
        PromotionDecision decision;
        if (belowMinimum is not null)
        {
            decision = TrainingGuards.NoPromotion(job, candidateAuc, champion?.Version, margin, belowMinimum, test);
        }
        else if (champion is null)
        {
            decision = new(job.Model, job.Version, candidateAuc, null, null, margin, true, "no champion yet: the first candidate becomes champion", test.Rows, test.Positives);
        }
        else
        {
            var championManifest = await app.Models.ReadManifestAsync(ModelReference.Of(candidateRef.Model, StorageName.Version(champion.Version)), cancellationToken).ConfigureAwait(false);
            double? championAuc = championManifest.Features.All(f => table.Features.Contains(f.Name))
                ? await AucAsync(championManifest, test, cancellationToken).ConfigureAwait(false)
                : null;
            var promote = championAuc is null || candidateAuc - championAuc.Value >= margin;
            var reason = championAuc is null
                ? $"the champion {champion.Version} needs features this data lacks; the candidate replaces it"
                : string.Create(CultureInfo.InvariantCulture, $"candidate AUC {candidateAuc:0.0000} vs champion {champion.Version} {championAuc:0.0000} on the same {test.Rows:N0} held-out rows: {(promote ? "wins" : "does not win")} by the margin {margin}");
            decision = new(job.Model, job.Version, candidateAuc, champion.Version, championAuc, margin, promote, reason, test.Rows, test.Positives);
        }

        await app.Store.WriteAsync(StorageLayout.ModelFile(candidateRef.Model, candidateRef.Version!, "promotion.json"), JsonSerializer.SerializeToUtf8Bytes(decision, ModelManifest.JsonOptions), "application/json", createOnly: false, cancellationToken).ConfigureAwait(false);
        return decision;
    }

    /// <summary>Makes the candidate the champion.</summary>
    [Function("PromoteModel")]
    public async Task<bool> PromoteAsync([ActivityTrigger] PromotionDecision decision, CancellationToken cancellationToken)
    {
        await app.Models.PromoteAsync(ModelReference.Of(StorageName.Model(decision.Model), StorageName.Version(decision.Version)), decision.Reason, cancellationToken).ConfigureAwait(false);
        return true;
    }

    private async Task<double> AucAsync(ModelManifest manifest, TrainingTable test, CancellationToken cancellationToken)
    {
        var model = await app.LoadModelAsync(manifest.Reference, cancellationToken).ConfigureAwait(false);
        return Metrics.Auc(model.Predict(test.ScoringInput(manifest.Features), test.Rows), test.Y);
    }
}
