using FinServerless.Contracts;
using System.Text.Json;
using System.Text.Json.Nodes;
using Azure.Core;
using Azure.Core.Pipeline;
using Azure.Identity;

namespace FinServerless.Functions.Jobs;

/// <summary>
/// Starts the training container as an Azure Container Apps job execution through the ARM REST API (Azure.Core
/// pipeline, managed identity). Starting with an override replaces the job's container template, so the template
/// is read first and the job's own environment merged with ours; the execution is then polled by its id.
/// </summary>
public sealed class ContainerAppsDispatcher : ITrainingJobDispatcher
{
    /// <summary>The ARM API version used for jobs and executions.</summary>
    public const string ApiVersion = "2024-03-01";

    private readonly HttpPipeline _pipeline;
    private readonly Uri _arm;
    private readonly string _jobId;

    /// <summary>Uses the settings' job id and managed identity.</summary>
    public ContainerAppsDispatcher(AppSettings settings)
        : this(
            settings.Get(AppSettings.TrainingJobResourceId) ?? throw new InvalidOperationException($"Setting {AppSettings.TrainingJobResourceId} is required when {AppSettings.TrainingDispatcher} is containerapps."),
            new ManagedIdentityCredential(ManagedIdentityId.FromUserAssignedClientId(settings.Get(AppSettings.ManagedIdentityClientId) ?? throw new InvalidOperationException($"Setting {AppSettings.ManagedIdentityClientId} (the user-assigned identity's client id) is required for Container Apps jobs."))),
            new Uri("https://management.azure.com"),
            null)
    {
    }

    /// <summary>For a given ARM endpoint and credential (tests point it at a local server).</summary>
    public ContainerAppsDispatcher(string jobResourceId, TokenCredential credential, Uri armEndpoint, HttpPipelineTransport? transport)
    {
        if (!jobResourceId.StartsWith("/subscriptions/", StringComparison.OrdinalIgnoreCase) || !jobResourceId.Contains("/providers/Microsoft.App/jobs/", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"Setting {AppSettings.TrainingJobResourceId} must be a Container Apps job resource id (/subscriptions/…/resourceGroups/…/providers/Microsoft.App/jobs/{{name}}); got '{jobResourceId}'.");
        }

        _jobId = jobResourceId.TrimEnd('/');
        _arm = armEndpoint;
        var options = new ArmOptions();
        if (transport is not null)
        {
            options.Transport = transport;
        }

        _pipeline = HttpPipelineBuilder.Build(options, new BearerTokenAuthenticationPolicy(credential, "https://management.azure.com/.default"));
    }

    /// <inheritdoc/>
    public async Task<string> StartAsync(JobLaunch spec, CancellationToken cancellationToken)
    {
        var job = await SendAsync(RequestMethod.Get, _jobId, null, cancellationToken).ConfigureAwait(false);
        var containers = job["properties"]?["template"]?["containers"]?.AsArray()
            ?? throw new InvalidOperationException($"Container Apps job {_jobId} has no container template.");
        foreach (var container in containers)
        {
            var env = container!["env"]?.AsArray() ?? [];
            foreach (var (name, value) in spec.Environment)
            {
                var existing = env.FirstOrDefault(e => e?["name"]?.GetValue<string>() == name);
                if (existing is not null)
                {
                    env.Remove(existing);
                }

                env.Add(new JsonObject { ["name"] = name, ["value"] = value });
            }

            container["env"] = env;
        }

        var body = new JsonObject { ["containers"] = containers.DeepClone() };
        var execution = await SendAsync(RequestMethod.Post, _jobId + "/start", body, cancellationToken).ConfigureAwait(false);
        return execution["id"]?.GetValue<string>()
            ?? throw new InvalidOperationException($"Starting Container Apps job {_jobId} returned no execution id.");
    }

    /// <inheritdoc/>
    public async Task<JobReport> GetStateAsync(string executionId, CancellationToken cancellationToken)
    {
        var execution = await SendAsync(RequestMethod.Get, executionId, null, cancellationToken).ConfigureAwait(false);
        var status = execution["properties"]?["status"]?.GetValue<string>() ?? "Unknown";
        return status switch
        {
            "Succeeded" => new JobReport(JobState.Succeeded),
            "Failed" or "Stopped" or "Degraded" => new JobReport(JobState.Failed, $"Container Apps execution {executionId} is {status}"),
            _ => new JobReport(JobState.Running, status),
        };
    }

    private async Task<JsonNode> SendAsync(RequestMethod method, string path, JsonNode? body, CancellationToken cancellationToken)
    {
        using var message = _pipeline.CreateMessage();
        message.Request.Method = method;
        message.Request.Uri.Reset(new Uri(_arm, $"{path}?api-version={ApiVersion}"));
        if (body is not null)
        {
            message.Request.Headers.Add("Content-Type", "application/json");
            message.Request.Content = RequestContent.Create(System.Text.Encoding.UTF8.GetBytes(body.ToJsonString()));
        }

        await _pipeline.SendAsync(message, cancellationToken).ConfigureAwait(false);
        var response = message.Response;
        var text = response.Content.ToString();
        if (response.Status is < 200 or >= 300)
        {
            throw new InvalidOperationException($"ARM {method} {path} answered {response.Status}: {(text.Length > 500 ? text[..500] : text)}");
        }

        return JsonNode.Parse(string.IsNullOrWhiteSpace(text) ? "{}" : text)!;
    }

    private sealed class ArmOptions : ClientOptions
    {
    }
}
