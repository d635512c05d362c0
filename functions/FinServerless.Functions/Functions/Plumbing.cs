using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Nodes;
using FinServerless.Durable.Orchestration;
using FinServerless.Functions.Handler;

namespace FinServerless.Functions.Functions;

/// <summary>
/// The durable client binding as the extension passes it to a custom handler (passthrough): the task hub's HTTP
/// base URL and the query string it requires; orchestrations are started through that HTTP API.
/// </summary>
public static class DurableClient
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Starts <paramref name="orchestrator"/> with <paramref name="inputJson"/>; answers 202 with the management URLs when the trigger is HTTP.</summary>
    public static async Task<InvocationResponse> StartAsync(InvocationRequest request, string orchestrator, string? inputJson, CancellationToken cancellationToken)
    {
        var response = new InvocationResponse();
        var isHttp = request.Data.ContainsKey("req");
        if (isHttp)
        {
            try
            {
                if (orchestrator == "TrainModel")
                {
                    TrainingOrchestration.Validate(JsonSerializer.Deserialize<TrainModelInput>(inputJson ?? "null", Envelope.Options));
                }
            }
            catch (Exception ex) when (ex is JsonException or ArgumentException)
            {
                return response.Error(400, "BadRequest", $"The request body must be a JSON object such as {{\"partner\":\"demo\",\"dataset\":\"taiwan-credit\",\"trainer\":\"xgboost\"}}: {ex.Message}");
            }
        }

        var client = JsonNode.Parse(request.Json("starter") ?? throw new ArgumentException("The durableClient binding is missing."))!;
        var baseUrl = client["httpBaseUrl"]?.GetValue<string>() ?? throw new InvalidOperationException("The durableClient binding has no httpBaseUrl (Durable extension too old?).");
        var query = client["requiredQueryStringParameters"]?.GetValue<string>();
        var url = $"{baseUrl.TrimEnd('/')}/orchestrators/{orchestrator}{(string.IsNullOrEmpty(query) ? string.Empty : "?" + query)}";
        using var content = new StringContent(inputJson ?? "null", System.Text.Encoding.UTF8, "application/json");
        using var started = await Http.PostAsync(url, content, cancellationToken).ConfigureAwait(false);
        var body = await started.Content.ReadFromJsonAsync<JsonObject>(cancellationToken).ConfigureAwait(false);
        if (!started.IsSuccessStatusCode || body is null)
        {
            throw new InvalidOperationException($"Starting {orchestrator} failed: the durable API answered {(int)started.StatusCode}.");
        }

        response.Logs.Add($"started {orchestrator} instance {body["id"]}");
        return isHttp
            ? response.Http(202, body, headers: new Dictionary<string, string> { ["Location"] = body["statusQueryGetUri"]?.GetValue<string>() ?? string.Empty })
            : response;
    }
}
