using System.Security.Cryptography;
using System.Text.Json;
using FinServerless.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Onnx.Sessions;

namespace FinServerless.Scoring;

/// <summary>
/// Model versions in storage: <c>models/{model}/{version}/model.onnx</c> and <c>manifest.json</c> (written last,
/// create-only), and <c>models/{model}/champion.json</c> naming the champion. Every path is built from a
/// <see cref="ModelReference"/> of validated names, so a reference resolves only under <c>models/{name}/</c>, and
/// a champion pointer only to a version of the same model. Loaded models are scored by <paramref name="engine"/>
/// (<see cref="Trees.ScoreEngines.Setting"/>; default: the tree fast path where it applies).
/// </summary>
public sealed class ModelStore(IRunOutput store, Trees.ScoreEngine engine = Trees.ScoreEngine.Auto)
{
    /// <summary>The champion pointer of a model.</summary>
    public sealed record Champion(string Model, string Version, DateTimeOffset PromotedAt, string? Reason);

    /// <summary>Registers a version: writes the ONNX file, then its manifest (with the file's SHA-256). A version is immutable.</summary>
    public async Task<ModelManifest> RegisterAsync(ModelManifest manifest, ReadOnlyMemory<byte> onnx, CancellationToken cancellationToken = default)
    {
        var sha = Convert.ToHexStringLower(SHA256.HashData(onnx.Span));
        manifest = manifest with { Onnx = manifest.Onnx with { Sha256 = sha } };
        var reference = manifest.Reference;
        await store.WriteAsync(StorageLayout.ModelFile(reference.Model, reference.Version!, manifest.OnnxFile), onnx, "application/octet-stream", createOnly: false, cancellationToken).ConfigureAwait(false);
        if (!await store.WriteAsync(StorageLayout.ModelFile(reference.Model, reference.Version!, ModelFiles.Manifest), JsonSerializer.SerializeToUtf8Bytes(manifest, ModelManifest.JsonOptions), "application/json", createOnly: true, cancellationToken).ConfigureAwait(false))
        {
            var existing = await ReadManifestAsync(reference, cancellationToken).ConfigureAwait(false);
            if (existing.Onnx.Sha256 != sha)
            {
                throw new ModelException($"Model {manifest.Id} is already registered with different content (SHA-256 {existing.Onnx.Sha256}); versions are immutable, register a new version.");
            }

            return existing;
        }

        return manifest;
    }

    /// <summary>Makes a version the champion of its model.</summary>
    public Task PromoteAsync(ModelReference version, string? reason, CancellationToken cancellationToken = default)
    {
        if (version.IsChampion)
        {
            throw new ArgumentException("Promote a version, not the champion alias.", nameof(version));
        }

        var pointer = new Champion(version.Model.Value, version.Version!.Value, DateTimeOffset.UtcNow, reason);
        return store.WriteAsync(StorageLayout.Champion(version.Model), JsonSerializer.SerializeToUtf8Bytes(pointer, ModelManifest.JsonOptions), "application/json", createOnly: false, cancellationToken);
    }

    /// <summary>The champion of a model, or null; a pointer naming another model or an invalid version is refused.</summary>
    public async Task<Champion?> GetChampionAsync(StorageName model, CancellationToken cancellationToken = default) =>
        (await GetChampionReferenceAsync(model, cancellationToken).ConfigureAwait(false))?.Pointer;

    /// <summary>Reads a version's manifest.</summary>
    public async Task<ModelManifest> ReadManifestAsync(ModelReference reference, CancellationToken cancellationToken = default)
    {
        var version = await ResolveAsync(reference, cancellationToken).ConfigureAwait(false);
        var path = StorageLayout.ModelFile(version.Model, version.Version!, ModelFiles.Manifest);
        var bytes = await store.ReadAsync(path, cancellationToken).ConfigureAwait(false)
            ?? throw new ModelNotFoundException($"Model {version} is not registered.");
        var manifest = ModelManifest.Parse(bytes, path);
        if (manifest.Reference != version)
        {
            throw new ModelException($"Model manifest '{path}' describes {manifest.Id}, not {version}.");
        }

        return manifest;
    }

    /// <summary>Resolves a reference to the version it means now (the champion alias to the champion's version).</summary>
    public async Task<ModelReference> ResolveAsync(ModelReference reference, CancellationToken cancellationToken = default)
    {
        if (!reference.IsChampion)
        {
            return reference;
        }

        return (await GetChampionReferenceAsync(reference.Model, cancellationToken).ConfigureAwait(false))?.Version
            ?? throw new ModelNotFoundException($"Model '{reference.Model}' has no champion yet; train and promote a version first, or name a version.");
    }

    /// <summary>Loads a version (or the champion), checking the ONNX file against its manifest.</summary>
    public async Task<LoadedModel> LoadAsync(ModelReference reference, SessionSettings? options = null, CancellationToken cancellationToken = default)
    {
        var manifest = await ReadManifestAsync(reference, cancellationToken).ConfigureAwait(false);
        var version = manifest.Reference;
        var onnxPath = StorageLayout.ModelFile(version.Model, version.Version!, manifest.OnnxFile);
        var onnx = await store.ReadAsync(onnxPath, cancellationToken).ConfigureAwait(false)
            ?? throw new ModelException($"Model {manifest.Id}: {store.Describe(onnxPath)} is missing.");
        return LoadedModel.Load(manifest, onnx, onnxPath, options, engine);
    }

    private async Task<(Champion Pointer, ModelReference Version)?> GetChampionReferenceAsync(StorageName model, CancellationToken cancellationToken)
    {
        var path = StorageLayout.Champion(model);
        var bytes = await store.ReadAsync(path, cancellationToken).ConfigureAwait(false);
        if (bytes is null)
        {
            return null;
        }

        Champion? pointer;
        try
        {
            pointer = JsonSerializer.Deserialize<Champion>(bytes, ModelManifest.JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new ModelException($"The champion pointer {path} is not valid JSON.", ex);
        }

        if (pointer is null || pointer.Model != model.Value)
        {
            throw new ModelException($"The champion pointer {path} does not name a version of model '{model}'; promote a version again.");
        }

        if (!StorageName.TryParse(NameKind.Version, pointer.Version, out var version, out var reason))
        {
            throw new ModelException($"The champion pointer {path} names an invalid version ({reason}); promote a version again.");
        }

        return (pointer, ModelReference.Of(model, version));
    }
}

/// <summary>A model or version that does not exist (HTTP 404).</summary>
public sealed class ModelNotFoundException(string message) : ModelException(message);
