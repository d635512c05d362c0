using System.Text.Json;
using System.Text.Json.Nodes;
using FinServerless.Datasets.Ingest;
using FinServerless.Functions.Handler;
using FinServerless.Onnx.Runtime;
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
        var name = p.GetValueOrDefault("name");
        var version = p.GetValueOrDefault("version");
        if (!string.IsNullOrEmpty(name) && !string.IsNullOrEmpty(version))
        {
            try
            {
                return response.Http(200, await app.Models.ReadManifestAsync(name, version, cancellationToken).ConfigureAwait(false));
            }
            catch (ModelException ex)
            {
                return response.Error(404, "ModelNotFound", ex.Message);
            }
        }

        var versions = new SortedDictionary<string, List<string>>(StringComparer.Ordinal);
        await foreach (var blob in app.ListAsync("models", string.IsNullOrEmpty(name) ? null : name + "/", cancellationToken).ConfigureAwait(false))
        {
            var parts = blob.Name.Split('/');
            if (parts.Length == 3 && parts[2] == "manifest.json")
            {
                (versions.TryGetValue(parts[0], out var list) ? list : versions[parts[0]] = []).Add(parts[1]);
            }
        }

        if (!string.IsNullOrEmpty(name) && versions.Count == 0)
        {
            return response.Error(404, "ModelNotFound", $"No model '{name}'.");
        }

        var models = new List<object>();
        foreach (var (model, list) in versions)
        {
            models.Add(new { name = model, versions = list, champion = await app.Models.GetChampionAsync(model, cancellationToken).ConfigureAwait(false) });
        }

        return response.Http(200, new { models });
    }

    /// <summary>GET /api/runs/{partner}/{dataset}: the committed curated runs, newest first.</summary>
    public static async Task<InvocationResponse> RunsAsync(AppServices app, InvocationRequest request, CancellationToken cancellationToken)
    {
        var p = request.Http().Params;
        var runs = await app.RunsAsync(p.GetValueOrDefault("partner") ?? string.Empty, p.GetValueOrDefault("dataset") ?? string.Empty, cancellationToken).ConfigureAwait(false);
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
            checks["onnxRuntime"] = OrtEnvironment.Instance.Version;
        }
        catch (Exception ex) when (ex is Native.NativeLibraryNotFoundException or DllNotFoundException)
        {
            checks["onnxRuntime"] = $"not loadable: {ex.Message}";
            healthy = false;
        }

        return new InvocationResponse().Http(healthy ? 200 : 503, new { status = healthy ? "healthy" : "unhealthy", checks, version = typeof(ReadFunctions).Assembly.GetName().Version?.ToString() });
    }
}
