using System.Collections.Concurrent;
using System.Text.Json;
using FinServerless.Datasets.Ingest;
using FinServerless.Functions.Jobs;
using FinServerless.Scoring;
using FinServerless.Storage;
using FinServerless.Storage.Blobs;

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
        Models = new ModelStore(Store);
        Bands = settings.Get(AppSettings.RiskBands) is { } bands ? RiskBands.Parse(bands, AppSettings.RiskBands) : RiskBands.Default;
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

    /// <summary>Risk bands.</summary>
    public RiskBands Bands { get; }

    /// <summary>Where training jobs run.</summary>
    public ITrainingJobDispatcher Jobs { get; }

    /// <summary>A loaded model (ONNX session) by "name@version", loaded once; "name@champion" is resolved on every call.</summary>
    public async Task<LoadedModel> LoadModelAsync(string reference, CancellationToken cancellationToken)
    {
        var (model, version) = await Models.ResolveAsync(reference, cancellationToken).ConfigureAwait(false);
        reference = $"{model}@{version}";
        var entry = _models.GetOrAdd(reference, r => new Lazy<Task<LoadedModel>>(() => Models.LoadAsync(r, cancellationToken: CancellationToken.None)));
        try
        {
            return await entry.Value.ConfigureAwait(false);
        }
        catch
        {
            _models.TryRemove(reference, out _);
            throw;
        }
    }

    /// <summary>Reads and parses a curated run manifest.</summary>
    public async Task<RunManifest> ReadRunAsync(string manifestPath, CancellationToken cancellationToken)
    {
        var bytes = await Store.ReadAsync(manifestPath, cancellationToken).ConfigureAwait(false)
            ?? throw new ModelException($"Curated run manifest {manifestPath} does not exist.");
        return JsonSerializer.Deserialize<RunManifest>(bytes, RunManifest.JsonOptions)!;
    }

    /// <summary>The committed curated runs of a partner's dataset (manifest path and manifest), newest first.</summary>
    public async Task<List<(string Path, RunManifest Run)>> RunsAsync(string partner, string dataset, CancellationToken cancellationToken)
    {
        var runs = new List<(string Path, RunManifest Run)>();
        await foreach (var item in ListAsync(RunPaths.CuratedContainer, $"{partner}/{dataset}/", cancellationToken).ConfigureAwait(false))
        {
            if (item.Name.EndsWith("/_manifest.json", StringComparison.Ordinal))
            {
                var path = $"{RunPaths.CuratedContainer}/{item.Name}";
                runs.Add((path, await ReadRunAsync(path, cancellationToken).ConfigureAwait(false)));
            }
        }

        return [.. runs.OrderByDescending(r => r.Run.CreatedAt)];
    }

    /// <summary>The newest committed curated run of a partner's dataset (manifest path), or null.</summary>
    public async Task<(string Path, RunManifest Run)?> LatestRunAsync(string partner, string dataset, CancellationToken cancellationToken) =>
        (await RunsAsync(partner, dataset, cancellationToken).ConfigureAwait(false)) is [var newest, ..] ? newest : null;

    /// <summary>Blobs of a container under a prefix; a container that does not exist yet lists as empty.</summary>
    public async IAsyncEnumerable<BlobItem> ListAsync(string container, string? prefix, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var client = Blobs.GetBlobContainerClient(container);
        if (!await client.ExistsAsync(cancellationToken).ConfigureAwait(false))
        {
            yield break;
        }

        await foreach (var item in client.GetBlobsAsync(prefix, cancellationToken: cancellationToken).ConfigureAwait(false))
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
