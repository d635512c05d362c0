using System.Text.Json;
using Microsoft.Azure.Functions.Worker;
using Microsoft.Azure.Functions.Worker.Http;
using Microsoft.DurableTask.Client;
using Microsoft.Extensions.Logging;

namespace FinServerless.Functions.Functions;

/// <summary>The functions that start orchestrations: StartTraining (HTTP) and NightlyRescore (timer).</summary>
public sealed class Starters(ILogger<Starters> log)
{
    /// <summary>The largest StartTraining body: a small JSON object.</summary>
    public const long MaxStartBodyBytes = 64 * 1024;

    /// <summary>POST /api/training {"partner", "dataset", "trainer", ...}: validates, starts TrainModel, answers 202 with its status URLs.</summary>
    [Function("StartTraining")]
    public async Task<HttpResponseData> StartTrainingAsync(
        [HttpTrigger(AuthorizationLevel.Function, "post", Route = "training")] HttpRequestData request, [DurableClient] DurableTaskClient client, FunctionContext context)
    {
        TrainModelInput input;
        try
        {
            var body = await HttpInput.ReadBodyAsync(request.Body, MaxStartBodyBytes, context.CancellationToken).ConfigureAwait(false);
            input = JsonSerializer.Deserialize<TrainModelInput>(body.Length == 0 ? "null"u8.ToArray() : body, AppJson.Options)!;
            TrainingOrchestration.Validate(input);
        }
        catch (Exception ex) when (ex is JsonException or ArgumentException or BodyTooLargeException)
        {
            var refused = request.CreateResponse(ex is BodyTooLargeException ? System.Net.HttpStatusCode.RequestEntityTooLarge : System.Net.HttpStatusCode.BadRequest);
            await refused.WriteStringAsync(
                JsonSerializer.Serialize(AppJson.ErrorBody(ex is BodyTooLargeException ? "BodyTooLarge" : "BadRequest", $"The request body must be a JSON object such as {{\"partner\":\"demo\",\"dataset\":\"taiwan-credit\",\"trainer\":\"xgboost\"}}: {ex.Message}"), AppJson.Options),
                context.CancellationToken).ConfigureAwait(false);
            refused.Headers.Add("Content-Type", "application/json; charset=utf-8");
            return refused;
        }

        var id = await client.ScheduleNewOrchestrationInstanceAsync(nameof(TrainingOrchestration.TrainModel), input, context.CancellationToken).ConfigureAwait(false);
        log.LogInformation("started TrainModel instance {InstanceId} for {Partner}/{Dataset} ({Trainer})", id, input.Partner, input.Dataset, input.Trainer);
        return await client.CreateCheckStatusResponseAsync(request, id, context.CancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts RescorePortfolio over every champion on FINSERVERLESS_RESCORE_SCHEDULE (NCRONTAB, six fields).</summary>
    [Function("NightlyRescore")]
    public async Task NightlyRescoreAsync([TimerTrigger("%" + AppSettings.RescoreSchedule + "%")] TimerInfo timer, [DurableClient] DurableTaskClient client, FunctionContext context)
    {
        var id = await client.ScheduleNewOrchestrationInstanceAsync(nameof(RescoreOrchestration.RescorePortfolio), new RescoreInput(null), context.CancellationToken).ConfigureAwait(false);
        log.LogInformation("started RescorePortfolio instance {InstanceId}{Late}", id, timer.IsPastDue ? " (the schedule was past due)" : string.Empty);
    }
}
