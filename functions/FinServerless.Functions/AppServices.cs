using FinServerless.Contracts;
using System.Collections.Concurrent;
using System.Text.Json;
using FinServerless.Datasets.Ingest;
using FinServerless.Functions.Jobs;
using FinServerless.Scoring;
using FinServerless.Scoring.Trees;
using Azure.Storage.Blobs;
using Azure.Storage.Blobs.Models;
using FinServerless.Connections;

namespace FinServerless.Functions;

/// <summary>What every function shares: storage clients, the model store, a cache of loaded models, the job dispatcher.</summary>
public sealed class AppServices : IDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<Task<LoadedModel>>> _models = new();

    /// <summary>Builds the services from settings.</summary>
    public AppServices(AppSettings settings)
    {
        Settings = settings;
        Connection = StorageConnection.FromSettings(AppSettings.Storage, settings.Reader);
        Blobs = Connection.CreateBlobServiceClient();
        Store = new BlobRunOutput(Blobs);
        Models = new ModelStore(Store, ScoreEngines.Parse(settings.Get(AppSettings.ScoreEngine)));
        IngestOptions = IngestSettings.Apply(new IngestOptions(), settings.Reader);
        Training = TrainingOptions.From(settings);
        ScoreLimits = ScoreLimits.From(settings);
        Bands = settings.Get(AppSettings.MasterScale) is { } bands ? RiskBands.Parse(bands, AppSettings.MasterScale) : RiskBands.Default;
        var reasons = settings.Number(AppSettings.ScoreReasons, ScoreOptions.DefaultReasonCount, 0);
        if (reasons > 10 || reasons != Math.Floor(reasons))
        {
            throw new InvalidOperationException($"Setting {AppSettings.ScoreReasons} must be a whole number from 0 to 10 (reason codes per scored row).");
        }

        ScoreOptions = new ScoreOptions { Bands = Bands, ReasonCount = (int)reasons };
        Jobs = settings.Get(AppSettings.TrainingDispatcher) switch
        {
            null or "local" => new LocalProcessDispatcher(settings),
            "containerapps" => new ContainerAppsDispatcher(settings),
            var other => throw new InvalidOperationException($"Setting {AppSettings.TrainingDispatcher} is '{other}'; use local or containerapps."),
        };
    }

    /// <summary>Settings.</summary>
    public AppSettings Settings { get; }

    /// <summary>The storage connection.</summary>
    public StorageConnection Connection { get; }

    /// <summary>Blob service.</summary>
    public BlobServiceClient Blobs { get; }

    /// <summary>Blob paths as container/path.</summary>
    public BlobRunOutput Store { get; }

    /// <summary>Model versions and champions.</summary>
    public ModelStore Models { get; }

    /// <summary>Ingest limits from the app settings (read at start-up: a bad one fails naming the setting).</summary>
    public IngestOptions IngestOptions { get; }

    /// <summary>TrainModel's settings, checked at start-up.</summary>
    public TrainingOptions Training { get; }

    /// <summary>ScoreBatch's limits, checked at start-up.</summary>
    public ScoreLimits ScoreLimits { get; }

    /// <summary>Risk bands.</summary>
    public RiskBands Bands { get; }

    /// <summary>How score jobs and rescoring write scores: the master scale and the reason codes per row.</summary>
    public ScoreOptions ScoreOptions { get; }

    /// <summary>Where training jobs run.</summary>
    public ITrainingJobDispatcher Jobs { get; }

    /// <summary>A loaded model (ONNX session) by name and version, loaded once; "name@champion" is resolved on every call.</summary>
    public async Task<LoadedModel> LoadModelAsync(ModelReference reference, CancellationToken cancellationToken)
    {
        var version = await Models.ResolveAsync(reference, cancellationToken).ConfigureAwait(false);
        var key = version.ToString();
        var entry = _models.GetOrAdd(key, _ => new Lazy<Task<LoadedModel>>(() => Models.LoadAsync(version, cancellationToken: CancellationToken.None)));
        try
        {
            return await entry.Value.ConfigureAwait(false);
        }
        catch
        {
            _models.TryRemove(key, out _);
            throw;
        }
    }

    /// <summary>
    /// The contract of the dataset a model was trained on (from its lineage), read now so a changed contract applies at
    /// once; null when the lineage names no valid partner and dataset or the contract is gone.
    /// </summary>
    public async Task<(Datasets.Contracts.DatasetContract Contract, string Path)?> TrainingContractAsync(ModelManifest manifest, CancellationToken cancellationToken)
    {
        if (manifest.Lineage is null || !manifest.Lineage.TryDataset(out var partner, out var dataset))
        {
            return null;
        }

        var path = StorageLayout.Contract(partner, dataset);
        return await Store.ReadAsync(path, cancellationToken).ConfigureAwait(false) is { } bytes
            ? (Datasets.Contracts.DatasetContract.Parse(bytes, path), path)
            : null;
    }

    /// <summary>Reads a curated run manifest from a path a caller gave (<c>curated/{partner}/{dataset}/{run}/_manifest.json</c>, checked).</summary>
    public async Task<RunManifest> ReadRunAsync(string manifestPath, CancellationToken cancellationToken) =>
        (await ReadCommittedRunAsync(manifestPath, cancellationToken).ConfigureAwait(false)).Run;

    /// <summary>Reads a curated run manifest; it must describe the run it is stored as.</summary>
    public async Task<RunManifest> ReadRunAsync(StorageName partner, StorageName dataset, StorageName run, CancellationToken cancellationToken) =>
        (await ReadCommittedRunAsync(partner, dataset, run, cancellationToken).ConfigureAwait(false)).Run;

    /// <summary>A committed run from a path a caller gave, with its manifest's SHA-256 (one read).</summary>
    public Task<CommittedRun> ReadCommittedRunAsync(string manifestPath, CancellationToken cancellationToken)
    {
        var (partner, dataset, run) = StorageLayout.ParseCuratedManifest(manifestPath);
        return ReadCommittedRunAsync(partner, dataset, run, cancellationToken);
    }

    /// <summary>A committed run with its manifest's SHA-256, read once; the manifest must describe the run it is stored as.</summary>
    public async Task<CommittedRun> ReadCommittedRunAsync(StorageName partner, StorageName dataset, StorageName run, CancellationToken cancellationToken)
    {
        var path = StorageLayout.CuratedManifest(partner, dataset, run);
        var bytes = await Store.ReadAsync(path, cancellationToken).ConfigureAwait(false)
            ?? throw new RunNotFoundException($"Curated run {run} of {partner}/{dataset} does not exist.");
        var manifest = JsonSerializer.Deserialize<RunManifest>(bytes, RunManifest.JsonOptions)!;
        if (manifest.Names != (partner, dataset, run))
        {
            throw new InvalidDataException($"The curated manifest {path} describes run {StorageName.Quote(manifest.RunId)} of {StorageName.Quote(manifest.Partner)}/{StorageName.Quote(manifest.Dataset)}, not the run it is stored as.");
        }

        return new CommittedRun(path, manifest, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)));
    }

    /// <summary>The committed curated runs of a partner's dataset (manifest path and manifest), newest first.</summary>
    public async Task<List<(string Path, RunManifest Run)>> RunsAsync(StorageName partner, StorageName dataset, CancellationToken cancellationToken)
    {
        var runs = new List<(string Path, RunManifest Run)>();
        var prefix = StorageLayout.CuratedDataset(partner, dataset);
        await foreach (var item in ListAsync(StorageLayout.CuratedContainer, prefix[(StorageLayout.CuratedContainer.Length + 1)..], cancellationToken).ConfigureAwait(false))
        {
            var path = $"{StorageLayout.CuratedContainer}/{item.Name}";
            if (path.EndsWith("/" + StorageLayout.ManifestFile, StringComparison.Ordinal)
                && StorageName.TryParse(NameKind.Run, path[prefix.Length..^(StorageLayout.ManifestFile.Length + 1)], out var run, out _))
            {
                runs.Add((path, await ReadRunAsync(partner, dataset, run, cancellationToken).ConfigureAwait(false)));
            }
        }

        return [.. runs.OrderByDescending(r => r.Run.CreatedAt)];
    }

    /// <summary>
    /// The newest committed curated run of a partner's dataset, from ingest's <c>latest.json</c> pointer (checked
    /// against the manifest's SHA-256); a dataset whose runs predate pointers is listed instead. Null when it has no run.
    /// </summary>
    public async Task<CommittedRun?> LatestRunAsync(StorageName partner, StorageName dataset, CancellationToken cancellationToken)
    {
        if (await LatestRun.ReadAsync(Store, partner, dataset, cancellationToken).ConfigureAwait(false) is { } pointer)
        {
            var (_, _, run) = StorageLayout.ParseCuratedManifest(pointer.Manifest, StorageLayout.LatestRun(partner, dataset));
            CommittedRun latest;
            try
            {
                latest = await ReadCommittedRunAsync(partner, dataset, run, cancellationToken).ConfigureAwait(false);
            }
            catch (RunNotFoundException)
            {
                throw new RunNotFoundException($"{StorageLayout.LatestRun(partner, dataset)} names run {run}, which does not exist.");
            }

            return latest.ManifestSha256 == pointer.ManifestSha256
                ? latest
                : throw new InvalidDataException($"The curated manifest {latest.Path} has SHA-256 {latest.ManifestSha256}, not the {pointer.ManifestSha256} that {StorageLayout.LatestRun(partner, dataset)} records; the run was modified after it was committed.");
        }

        return (await RunsAsync(partner, dataset, cancellationToken).ConfigureAwait(false)) is [var newest, ..]
            ? await ReadCommittedRunAsync(partner, dataset, newest.Run.Names.Run, cancellationToken).ConfigureAwait(false)
            : null;
    }

    /// <summary>Blobs of a container under a prefix; a container that does not exist yet lists as empty.</summary>
    public async IAsyncEnumerable<BlobItem> ListAsync(string container, string? prefix, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var client = Blobs.GetBlobContainerClient(container);
        if (!await client.ExistsAsync(cancellationToken).ConfigureAwait(false))
        {
            yield break;
        }

        await foreach (var item in client.GetBlobsAsync(BlobTraits.None, BlobStates.None, prefix, cancellationToken).ConfigureAwait(false))
        {
            yield return item;
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var entry in _models.Values.Where(e => e.IsValueCreated && e.Value.IsCompletedSuccessfully))
        {
            entry.Value.Result.Dispose();
        }
    }
}

/// <summary>A committed curated run: its manifest's path, the manifest, and the manifest's SHA-256.</summary>
public sealed record CommittedRun(string Path, RunManifest Run, string ManifestSha256);

/// <summary>A curated run that does not exist (HTTP 404).</summary>
public sealed class RunNotFoundException(string message) : Exception(message);
