using System.Text.Json;
using FinServerless.Contracts;
using System.Text.Json.Nodes;
using FinServerless.Datasets.Ingest;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Azure.Functions.Worker;
using FinServerless.Onnx.Sessions;
using FinServerless.Scoring;

namespace FinServerless.Functions.Functions;

/// <summary>Read-only HTTP: models and champions, curated runs, health.</summary>
public sealed class ReadFunctions(AppServices app)
{
    /// <summary>GET /api/models (names and champions), /api/models/{name} (versions), /api/models/{name}/{version} (manifest).</summary>
    [Function("ListModels")]
    public async Task<IActionResult> ModelsAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "models/{name?}/{version?}")] HttpRequest request, string? name, string? version, CancellationToken cancellationToken)
    {
        StorageName? model = null;
        StorageName? modelVersion = null;
        try
        {
            model = string.IsNullOrEmpty(name) ? null : StorageName.Model(name, "name");
            modelVersion = string.IsNullOrEmpty(version) ? null : StorageName.Version(version, "version");
        }
        catch (InvalidNameException ex)
        {
            return AppJson.Error(400, "InvalidName", ex.Message);
        }

        if (model is not null && modelVersion is not null)
        {
            try
            {
                return AppJson.Result(200, await app.Models.ReadManifestAsync(ModelReference.Of(model, modelVersion), cancellationToken).ConfigureAwait(false));
            }
            catch (ModelNotFoundException ex)
            {
                return AppJson.Error(404, "ModelNotFound", ex.Message);
            }
        }

        var versions = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        await foreach (var blob in app.ListAsync(StorageLayout.ModelsContainer, model is null ? null : model.Value + "/", cancellationToken).ConfigureAwait(false))
        {
            // Only well-named versions are listed: anything else under models/ was not written by the platform.
            var parts = blob.Name.Split('/');
            if (parts.Length == 3 && parts[2] == ModelFiles.Manifest
                && StorageName.TryParse(NameKind.Model, parts[0], out _, out _) && StorageName.TryParse(NameKind.Version, parts[1], out _, out _))
            {
                (versions.TryGetValue(parts[0], out var list) ? list : versions[parts[0]] = []).Add(parts[1]);
            }
        }

        if (model is not null && versions.Count == 0)
        {
            return AppJson.Error(404, "ModelNotFound", $"No model '{model}'.");
        }

        var models = new List<object>();
        foreach (var (modelName, list) in versions)
        {
            models.Add(new { name = modelName, versions = list, champion = await app.Models.GetChampionAsync(StorageName.Model(modelName), cancellationToken).ConfigureAwait(false) });
        }

        return AppJson.Result(200, new { models });
    }

    /// <summary>GET /api/runs/{partner}/{dataset}: the committed curated runs, newest first.</summary>
    [Function("ListRuns")]
    public async Task<IActionResult> RunsAsync(
        [HttpTrigger(AuthorizationLevel.Function, "get", Route = "runs/{partner}/{dataset}")] HttpRequest request, string partner, string dataset, CancellationToken cancellationToken)
    {
        StorageName partnerName, datasetName;
        try
        {
            (partnerName, datasetName) = (StorageName.Partner(partner), StorageName.Dataset(dataset));
        }
        catch (InvalidNameException ex)
        {
            return AppJson.Error(400, "InvalidName", ex.Message);
        }

        var runs = await app.RunsAsync(partnerName, datasetName, cancellationToken).ConfigureAwait(false);
        var list = runs.Select(r => new { runId = r.Run.RunId, createdAt = r.Run.CreatedAt, rows = r.Run.Rows, input = r.Run.Input.Path, manifest = r.Path, drift = r.Run.Drift?.WorstBand }).ToList();
        return AppJson.Result(200, new { partner = partnerName.Value, dataset = datasetName.Value, runs = list });
    }

    /// <summary>GET /api/health: storage reachable, engines loadable.</summary>
    [Function("Health")]
    public async Task<IActionResult> HealthAsync([HttpTrigger(AuthorizationLevel.Anonymous, "get", Route = "health")] HttpRequest request, CancellationToken cancellationToken)
    {
        var checks = new JsonObject();
        var healthy = true;
        try
        {
            await app.Blobs.GetBlobContainerClient("models").ExistsAsync(cancellationToken).ConfigureAwait(false);
            checks["storage"] = "ok";
        }
        catch (Exception ex) when (ex is Azure.RequestFailedException or HttpRequestException)
        {
            checks["storage"] = $"unreachable: {ex.Message}";
            healthy = false;
        }

        try
        {
            checks["onnxRuntime"] = OnnxSessions.Version;
        }
        catch (Exception ex) when (ex is DllNotFoundException or TypeInitializationException or Microsoft.ML.OnnxRuntime.OnnxRuntimeException)
        {
            checks["onnxRuntime"] = $"not loadable: {ex.Message}";
            healthy = false;
        }

        return AppJson.Result(healthy ? 200 : 503, new { status = healthy ? "healthy" : "unhealthy", checks, version = typeof(ReadFunctions).Assembly.GetName().Version?.ToString() });
    }
}
