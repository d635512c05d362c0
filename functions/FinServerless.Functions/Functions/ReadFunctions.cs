using System.Text.Json;
using FinServerless.Contracts;
using System.Text.Json.Nodes;
using FinServerless.Datasets.Ingest;
using FinServerless.Functions.Handler;
using FinServerless.Onnx.Sessions;
using FinServerless.Scoring;

namespace FinServerless.Functions.Functions;

/// <summary>Read-only HTTP: models and champions, curated runs, health.</summary>
public static class ReadFunctions
{
    /// <summary>GET /api/models (names and champions), /api/models/{name} (versions), /api/models/{name}/{version} (manifest).</summary>
    public static async Task<InvocationResponse> ModelsAsync(AppServices app, InvocationRequest request, CancellationToken cancellationToken)
    {
        var response = new InvocationResponse();
        var p = request.Http().Params;
        StorageName? name = null;
        StorageName? version = null;
        try
        {
            name = string.IsNullOrEmpty(p.GetValueOrDefault("name")) ? null : StorageName.Model(p["name"], "name");
            version = string.IsNullOrEmpty(p.GetValueOrDefault("version")) ? null : StorageName.Version(p["version"], "version");
        }
        catch (InvalidNameException ex)
        {
            return response.Error(400, "InvalidName", ex.Message);
        }

        if (name is not null && version is not null)
        {
            try
            {
                return response.Http(200, await app.Models.ReadManifestAsync(ModelReference.Of(name, version), cancellationToken).ConfigureAwait(false));
            }
            catch (ModelNotFoundException ex)
            {
                return response.Error(404, "ModelNotFound", ex.Message);
            }
        }

        var versions = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        await foreach (var blob in app.ListAsync(StorageLayout.ModelsContainer, name is null ? null : name.Value + "/", cancellationToken).ConfigureAwait(false))
        {
            // Only well-named versions are listed: anything else under models/ was not written by the platform.
            var parts = blob.Name.Split('/');
            if (parts.Length == 3 && parts[2] == "manifest.json"
                && StorageName.TryParse(NameKind.Model, parts[0], out _, out _) && StorageName.TryParse(NameKind.Version, parts[1], out _, out _))
            {
                (versions.TryGetValue(parts[0], out var list) ? list : versions[parts[0]] = []).Add(parts[1]);
            }
        }

        if (name is not null && versions.Count == 0)
        {
            return response.Error(404, "ModelNotFound", $"No model '{name}'.");
        }

        var models = new List<object>();
        foreach (var (model, list) in versions)
        {
            models.Add(new { name = model, versions = list, champion = await app.Models.GetChampionAsync(StorageName.Model(model), cancellationToken).ConfigureAwait(false) });
        }

        return response.Http(200, new { models });
    }

    /// <summary>GET /api/runs/{partner}/{dataset}: the committed curated runs, newest first.</summary>
    public static async Task<InvocationResponse> RunsAsync(AppServices app, InvocationRequest request, CancellationToken cancellationToken)
    {
        var p = request.Http().Params;
        StorageName partner, dataset;
        try
        {
            (partner, dataset) = (StorageName.Partner(p.GetValueOrDefault("partner")), StorageName.Dataset(p.GetValueOrDefault("dataset")));
        }
        catch (InvalidNameException ex)
        {
            return new InvocationResponse().Error(400, "InvalidName", ex.Message);
        }

        var runs = await app.RunsAsync(partner, dataset, cancellationToken).ConfigureAwait(false);
        var list = runs.Select(r => new { runId = r.Run.RunId, createdAt = r.Run.CreatedAt, rows = r.Run.Rows, input = r.Run.Input.Path, manifest = r.Path, drift = r.Run.Drift?.WorstBand }).ToList();
        return new InvocationResponse().Http(200, new { partner = p.GetValueOrDefault("partner"), dataset = p.GetValueOrDefault("dataset"), runs = list });
    }

    /// <summary>GET /api/health: storage reachable, engines loadable.</summary>
    public static async Task<InvocationResponse> HealthAsync(AppServices app, InvocationRequest request, CancellationToken cancellationToken)
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

        return new InvocationResponse().Http(healthy ? 200 : 503, new { status = healthy ? "healthy" : "unhealthy", checks, version = typeof(ReadFunctions).Assembly.GetName().Version?.ToString() });
    }
}
