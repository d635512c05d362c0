using System.Globalization;
using System.Text.Json;
using FinServerless.Contracts;
using FinServerless.Functions.Jobs;
using FinServerless.Scoring;
using Microsoft.Azure.Functions.Worker;

namespace FinServerless.Functions.Functions;

/// <summary>The activities of TrainModel. None of them reads curated data: the training job does.</summary>
public sealed class TrainingActivities(AppServices app)
{
    /// <summary>Finds the newest curated run and fixes the model version and every setting of the job.</summary>
    [Function("PrepareTraining")]
    public async Task<PreparedTraining> PrepareAsync([ActivityTrigger] TrainModelInput input, CancellationToken cancellationToken)
    {
        TrainingOrchestration.Validate(input);
        var latest = await app.LatestRunAsync(StorageName.Partner(input.Partner), StorageName.Dataset(input.Dataset), cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"No curated run exists for partner '{input.Partner}' and dataset '{input.Dataset}'; ingest a file into inbox-{input.Partner}/{input.Dataset}/ first.");
        var (path, run, _) = latest;
        TrainingGuards.RequireTrainingRows(app.Training.Training, path, run.Rows.Accepted);
        var model = StorageName.Model(input.Model ?? $"{input.Dataset}-{input.Trainer}").Value;
        var version = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + "-" + Guid.NewGuid().ToString("N")[..6];
        var options = app.Training;
        var job = new TrainingJobSpec
        {
            Input = path,
            Model = model,
            Version = version,
            Trainer = input.Trainer,
            Parameters = input.Params,
            Seed = input.Seed,
            Device = options.Device,
            MinRows = options.Training.Rows,
            MinClassRows = options.Training.ClassRows,
            MasterScale = app.Bands.ToString(),
        };
        _ = job.Check();
        return new PreparedTraining(job, run.RunId, run.Rows.Accepted, input.TimeoutMinutes ?? options.TimeoutMinutes, options.PollSeconds, input.Rescore);
    }

    /// <summary>Writes the job file beside where the model will be and starts the training container job, told only where that file is.</summary>
    [Function("DispatchTrainingJob")]
    public async Task<string> DispatchAsync([ActivityTrigger] PreparedTraining prepared, CancellationToken cancellationToken)
    {
        var (_, _, _, model) = prepared.Job.Check();
        var jobFile = StorageLayout.ModelFile(model, ModelFiles.Job);
        await app.Store.WriteAsync(jobFile, prepared.Job.ToJson(), "application/json", createOnly: false, cancellationToken).ConfigureAwait(false);
        var environment = new Dictionary<string, string> { [TrainingJobSpec.LocationSetting] = $"blob://{jobFile}" };
        return await app.Jobs.StartAsync(new JobLaunch($"{model.Model}-{model.Version}", environment), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The job's state: the trainer's status file decides how it ended; the dispatcher says whether it still runs.</summary>
    [Function("GetTrainingJobStatus")]
    public async Task<TrainingJobStatus> StatusAsync([ActivityTrigger] JobQuery query, CancellationToken cancellationToken)
    {
        var model = ModelReference.Of(StorageName.Model(query.Model), StorageName.Version(query.Version));
        var path = StorageLayout.ModelFile(model, ModelFiles.Status);
        TrainingStatus? status = null;
        if (await app.Store.ReadAsync(path, cancellationToken).ConfigureAwait(false) is { } bytes)
        {
            try
            {
                status = TrainingStatus.Parse(bytes, path);
            }
            catch (FormatException)
            {
                // A status written by another trainer version, or torn: the dispatcher's state decides below.
            }
        }

        if (status is { State: var done } && done == JobState.Succeeded)
        {
            return status.Result is { } result
                ? new TrainingJobStatus(JobState.Succeeded, status.Line, null, result)
                : new TrainingJobStatus(JobState.Failed, status.Line, $"the trainer reported success in {path} without a result");
        }

        if (status is { State: var ended } && ended.IsFinal)
        {
            return new TrainingJobStatus(JobState.Failed, status.Line, status.Failure?.Reason ?? $"the trainer reported {ended}");
        }

        var job = await app.Jobs.GetStateAsync(query.ExecutionId, cancellationToken).ConfigureAwait(false);
        return job.State == JobState.Running
            ? new TrainingJobStatus(JobState.Running, status?.Line, job.Detail)
            : new TrainingJobStatus(JobState.Failed, status?.Line, $"{job.Detail ?? job.State.Value}; the trainer left no final status in {path}");
    }

    /// <summary>Decides the promotion from the trainer's result and the champion now (no data is read), and records the decision beside the candidate.</summary>
    [Function("DecidePromotion")]
    public async Task<PromotionDecision> DecideAsync([ActivityTrigger] PromotionRequest request, CancellationToken cancellationToken)
    {
        var job = request.Prepared.Job;
        var (_, _, _, candidate) = job.Check();
        var champion = await app.Models.GetChampionAsync(candidate.Model, cancellationToken).ConfigureAwait(false);
        var decision = Promotion.Decide(job.Model, job.Version, request.Result.Comparison, champion?.Version, app.Training.PromotionMargin, app.Training.Promotion, $"the held-out evaluation rows of {job.Input}");
        await app.Store.WriteAsync(StorageLayout.ModelFile(candidate, ModelFiles.Promotion), JsonSerializer.SerializeToUtf8Bytes(decision, ModelManifest.JsonOptions), "application/json", createOnly: false, cancellationToken).ConfigureAwait(false);
        return decision;
    }

    /// <summary>Makes the candidate the champion.</summary>
    [Function("PromoteModel")]
    public async Task<bool> PromoteAsync([ActivityTrigger] PromotionDecision decision, CancellationToken cancellationToken)
    {
        await app.Models.PromoteAsync(ModelReference.Of(StorageName.Model(decision.Model), StorageName.Version(decision.Version)), decision.Reason, cancellationToken).ConfigureAwait(false);
        return true;
    }
}
