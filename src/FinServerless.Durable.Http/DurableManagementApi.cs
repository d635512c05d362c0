using System.Text.Json;
using System.Text.Json.Nodes;
using FinServerless.Durable.Backend;
using FinServerless.Durable.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace FinServerless.Durable.Http;

/// <summary>
/// The durable HTTP management API, shaped like Durable Functions' own: start (202 with management URLs),
/// status (202 while running, 200 when done, 404 when unknown), list, raise event, terminate, purge.
/// </summary>
public static class DurableManagementApi
{
    /// <summary>The route prefix the Functions host uses.</summary>
    public const string Prefix = "/runtime/webhooks/durabletask";

    /// <summary>Maps the API onto <paramref name="endpoints"/>.</summary>
    public static IEndpointRouteBuilder MapDurableManagementApi(this IEndpointRouteBuilder endpoints, StorageTaskHub hub)
    {
        endpoints.MapPost(Prefix + "/orchestrators/{name}/{instanceId?}", async (HttpContext http, string name, string? instanceId) =>
        {
            var input = await ReadBodyAsync(http.Request).ConfigureAwait(false);
            if (input is not null && !IsJson(input))
            {
                return Results.Problem($"The request body must be JSON (the orchestration input); got {input.Length} characters that do not parse.", statusCode: 400);
            }

            try
            {
                var id = await hub.StartAsync(name, input, instanceId, http.RequestAborted).ConfigureAwait(false);
                var urls = ManagementUrls(http.Request, id);
                http.Response.Headers.Location = urls["statusQueryGetUri"]!.ToString();
                http.Response.Headers.RetryAfter = "10";
                return Results.Json(urls, statusCode: 202);
            }
            catch (InvalidOperationException ex)
            {
                return Results.Problem(ex.Message, statusCode: 409);
            }
        });

        endpoints.MapGet(Prefix + "/instances/{instanceId}", async (HttpContext http, string instanceId, bool? showHistory, bool? showInput) =>
        {
            var found = await hub.GetAsync(instanceId, http.RequestAborted).ConfigureAwait(false);
            if (found is not { } f)
            {
                return Results.Problem($"No orchestration instance '{instanceId}' in task hub '{hub.Name}'.", statusCode: 404);
            }

            var body = Status(f.State, showInput ?? true);
            if (showHistory == true)
            {
                body["historyEvents"] = new JsonArray(f.History.Select(e => (JsonNode?)JsonNode.Parse(Google.Protobuf.JsonFormatter.Default.Format(e))).ToArray());
            }

            var done = StorageTaskHub.IsTerminal(f.State.OrchestrationStatus);
            if (!done)
            {
                http.Response.Headers.Location = ManagementUrls(http.Request, instanceId)["statusQueryGetUri"]!.ToString();
                http.Response.Headers.RetryAfter = "10";
            }

            return Results.Json(body, statusCode: done ? 200 : 202);
        });

        endpoints.MapGet(Prefix + "/instances", async (HttpContext http, string? runtimeStatus, DateTime? createdTimeFrom, DateTime? createdTimeTo) =>
        {
            var statuses = runtimeStatus?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(ParseStatus).ToList();
            if (statuses?.Any(s => s is null) == true)
            {
                return Results.Problem($"runtimeStatus '{runtimeStatus}' has an unknown value; use Pending, Running, Completed, ContinuedAsNew, Failed, Terminated.", statusCode: 400);
            }

            var list = new JsonArray();
            await foreach (var state in hub.ListAsync(statuses?.Select(s => s!.Value).ToList(), createdTimeFrom?.ToUniversalTime(), createdTimeTo?.ToUniversalTime(), http.RequestAborted).ConfigureAwait(false))
            {
                list.Add(Status(state, showInput: false));
            }

            return Results.Json(list);
        });

        endpoints.MapPost(Prefix + "/instances/{instanceId}/raiseEvent/{eventName}", async (HttpContext http, string instanceId, string eventName) =>
        {
            var state = await GetStateAsync(hub, instanceId, http.RequestAborted).ConfigureAwait(false);
            if (state is null)
            {
                return Results.Problem($"No orchestration instance '{instanceId}'.", statusCode: 404);
            }

            if (StorageTaskHub.IsTerminal(state.OrchestrationStatus))
            {
                return Results.Problem($"Instance '{instanceId}' is {state.OrchestrationStatus}; it no longer takes events.", statusCode: 410);
            }

            var input = await ReadBodyAsync(http.Request).ConfigureAwait(false);
            if (input is not null && !IsJson(input))
            {
                return Results.Problem("The event body must be JSON.", statusCode: 400);
            }

            await hub.RaiseEventAsync(instanceId, eventName, input, http.RequestAborted).ConfigureAwait(false);
            return Results.StatusCode(202);
        });

        endpoints.MapPost(Prefix + "/instances/{instanceId}/terminate", async (HttpContext http, string instanceId, string? reason) =>
        {
            var state = await GetStateAsync(hub, instanceId, http.RequestAborted).ConfigureAwait(false);
            if (state is null)
            {
                return Results.Problem($"No orchestration instance '{instanceId}'.", statusCode: 404);
            }

            if (StorageTaskHub.IsTerminal(state.OrchestrationStatus))
            {
                return Results.Problem($"Instance '{instanceId}' is already {state.OrchestrationStatus}.", statusCode: 410);
            }

            await hub.TerminateAsync(instanceId, reason, http.RequestAborted).ConfigureAwait(false);
            return Results.StatusCode(202);
        });

        endpoints.MapDelete(Prefix + "/instances/{instanceId}", async (HttpContext http, string instanceId) =>
        {
            try
            {
                return await hub.PurgeAsync(instanceId, http.RequestAborted).ConfigureAwait(false)
                    ? Results.Json(new { instancesDeleted = 1 })
                    : Results.Problem($"No orchestration instance '{instanceId}'.", statusCode: 404);
            }
            catch (InvalidOperationException ex)
            {
                return Results.Problem(ex.Message, statusCode: 409);
            }
        });

        return endpoints;
    }

    /// <summary>Durable Functions' name for a status (Running, Completed, …).</summary>
    public static string RuntimeStatus(OrchestrationStatus status) => status switch
    {
        OrchestrationStatus.Running => "Running",
        OrchestrationStatus.Completed => "Completed",
        OrchestrationStatus.ContinuedAsNew => "ContinuedAsNew",
        OrchestrationStatus.Failed => "Failed",
        OrchestrationStatus.Canceled => "Canceled",
        OrchestrationStatus.Terminated => "Terminated",
        OrchestrationStatus.Pending => "Pending",
        OrchestrationStatus.Suspended => "Suspended",
        _ => status.ToString(),
    };

    private static OrchestrationStatus? ParseStatus(string text) =>
        Enum.GetValues<OrchestrationStatus>().Cast<OrchestrationStatus?>().FirstOrDefault(s => string.Equals(RuntimeStatus(s!.Value), text, StringComparison.OrdinalIgnoreCase));

    private static async Task<OrchestrationState?> GetStateAsync(StorageTaskHub hub, string instanceId, CancellationToken cancellationToken) =>
        (await hub.GetAsync(instanceId, cancellationToken).ConfigureAwait(false))?.State;

    private static JsonObject Status(OrchestrationState state, bool showInput)
    {
        var body = new JsonObject
        {
            ["name"] = state.Name,
            ["instanceId"] = state.InstanceId,
            ["runtimeStatus"] = RuntimeStatus(state.OrchestrationStatus),
            ["customStatus"] = ParseOrString(state.CustomStatus),
            ["output"] = state.OrchestrationStatus == OrchestrationStatus.Failed && state.FailureDetails is { } f ? $"{f.ErrorType}: {f.ErrorMessage}" : ParseOrString(state.Output),
            ["createdTime"] = state.CreatedTimestamp?.ToDateTime().ToString("O"),
            ["lastUpdatedTime"] = state.LastUpdatedTimestamp?.ToDateTime().ToString("O"),
        };
        if (showInput)
        {
            body["input"] = ParseOrString(state.Input);
        }

        return body;
    }

    private static JsonNode? ParseOrString(string? json)
    {
        if (json is null)
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(json);
        }
        catch (JsonException)
        {
            return json;
        }
    }

    private static JsonObject ManagementUrls(HttpRequest request, string instanceId)
    {
        var root = $"{request.Scheme}://{request.Host}{Prefix}/instances/{Uri.EscapeDataString(instanceId)}";
        return new JsonObject
        {
            ["id"] = instanceId,
            ["statusQueryGetUri"] = root,
            ["sendEventPostUri"] = root + "/raiseEvent/{eventName}",
            ["terminatePostUri"] = root + "/terminate?reason={text}",
            ["purgeHistoryDeleteUri"] = root,
        };
    }

    private static async Task<string?> ReadBodyAsync(HttpRequest request)
    {
        using var reader = new StreamReader(request.Body);
        var text = await reader.ReadToEndAsync().ConfigureAwait(false);
        return string.IsNullOrWhiteSpace(text) ? null : text;
    }

    private static bool IsJson(string text)
    {
        try
        {
            using var _ = JsonDocument.Parse(text);
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
