using System.Security.Cryptography;
using System.Text.Json;
using FinServerless.Datasets.Ingest;
using FinServerless.Onnx.Runtime;

namespace FinServerless.Scoring;

/// <summary>
/// Model versions in storage: <c>models/{model}/{version}/model.onnx</c> and <c>manifest.json</c> (written last,
/// create-only), and <c>models/{model}/champion.json</c> naming the champion.
/// </summary>
public sealed class ModelStore(IRunOutput store)
{
    /// <summary>The champion pointer of a model.</summary>
    public sealed record Champion(string Model, string Version, DateTimeOffset PromotedAt, string? Reason);

    /// <summary>Registers a version: writes the ONNX file, then its manifest (with the file's SHA-256). A version is immutable.</summary>
    public async Task<ModelManifest> RegisterAsync(ModelManifest manifest, ReadOnlyMemory<byte> onnx, CancellationToken cancellationToken = default)
    {
        var sha = Convert.ToHexStringLower(SHA256.HashData(onnx.Span));
        manifest = manifest with { Onnx = manifest.Onnx with { Sha256 = sha } };
        var folder = $"models/{manifest.Name}/{manifest.Version}/";
        await store.WriteAsync(folder + manifest.Onnx.Path, onnx, "application/octet-stream", createOnly: false, cancellationToken).ConfigureAwait(false);
        if (!await store.WriteAsync(folder + "manifest.json", JsonSerializer.SerializeToUtf8Bytes(manifest, ModelManifest.JsonOptions), "application/json", createOnly: true, cancellationToken).ConfigureAwait(false))
        {
            var existing = await ReadManifestAsync(manifest.Name, manifest.Version, cancellationToken).ConfigureAwait(false);
            if (existing.Onnx.Sha256 != sha)
            {
                throw new ModelException($"Model {manifest.Id} is already registered with different content (SHA-256 {existing.Onnx.Sha256}); versions are immutable, register a new version.");
            }

            return existing;
        }

        return manifest;
    }

    /// <summary>Makes a version the champion.</summary>
    public Task PromoteAsync(string model, string version, string? reason, CancellationToken cancellationToken = default) =>
        store.WriteAsync($"models/{model}/champion.json", JsonSerializer.SerializeToUtf8Bytes(new Champion(model, version, DateTimeOffset.UtcNow, reason), ModelManifest.JsonOptions), "application/json", createOnly: false, cancellationToken);

    /// <summary>The champion of a model, or null.</summary>
    public async Task<Champion?> GetChampionAsync(string model, CancellationToken cancellationToken = default)
    {
        var bytes = await store.ReadAsync($"models/{model}/champion.json", cancellationToken).ConfigureAwait(false);
        return bytes is null ? null : JsonSerializer.Deserialize<Champion>(bytes, ModelManifest.JsonOptions);
    }

    /// <summary>Reads a version's manifest.</summary>
    public async Task<ModelManifest> ReadManifestAsync(string model, string version, CancellationToken cancellationToken = default)
    {
        var path = $"models/{model}/{version}/manifest.json";
        var bytes = await store.ReadAsync(path, cancellationToken).ConfigureAwait(false)
            ?? throw new ModelException($"Model {model}@{version} is not registered ({store.Describe(path)} does not exist).");
        return ModelManifest.Parse(bytes, path);
    }

    /// <summary>Resolves "name@version" or "name@champion" to the name and the version it means now.</summary>
    public async Task<(string Model, string Version)> ResolveAsync(string reference, CancellationToken cancellationToken = default)
    {
        var at = reference.IndexOf('@');
        if (at <= 0 || at == reference.Length - 1)
        {
            throw new ModelException($"Model reference '{reference}' must be name@version or name@champion.");
        }

        var (model, version) = (reference[..at], reference[(at + 1)..]);
        if (version == "champion")
        {
            version = (await GetChampionAsync(model, cancellationToken).ConfigureAwait(false))?.Version
                ?? throw new ModelException($"Model '{model}' has no champion yet; train and promote a version first, or name a version.");
        }

        return (model, version);
    }

    /// <summary>Loads "name@version" or "name@champion", checking the ONNX file against its manifest.</summary>
    public async Task<LoadedModel> LoadAsync(string reference, SessionOptions? options = null, CancellationToken cancellationToken = default)
    {
        var (model, version) = await ResolveAsync(reference, cancellationToken).ConfigureAwait(false);
        var manifest = await ReadManifestAsync(model, version, cancellationToken).ConfigureAwait(false);
        var onnxPath = $"models/{model}/{version}/{manifest.Onnx.Path}";
        var onnx = await store.ReadAsync(onnxPath, cancellationToken).ConfigureAwait(false)
            ?? throw new ModelException($"Model {manifest.Id}: {store.Describe(onnxPath)} is missing.");
        return LoadedModel.Load(manifest, onnx, onnxPath, options);
    }
}
