using System.Collections.Concurrent;
using FinServerless.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Functions.Functions;
using FinServerless.Scoring;
using FinServerless.Training;
using Microsoft.DurableTask;
using Microsoft.DurableTask.Client;
using Microsoft.DurableTask.Testing;

namespace FinServerless.Orchestration.Tests;

/// <summary>
/// The app's real orchestrators (TrainModel, RescorePortfolio) on the Durable Task SDK's in-process test host, with
/// their activities scripted: what each activity returns is set by the test, and every call is recorded.
/// </summary>
internal sealed class Script
{
    /// <summary>Every activity call, in the order they ran (name, and for partitions run/part).</summary>
    public ConcurrentQueue<string> Calls { get; } = new();

    /// <summary>The job's status on poll N (1-based).</summary>
    public Func<int, TrainingJobStatus> Status { get; set; } = _ => Succeeded(new HeldOutComparison(2000, 400, 0.80));

    /// <summary>The champion when the promotion is decided.</summary>
    public string? CurrentChampion { get; set; }

    public double Margin { get; set; } = 0.002;

    public DataMinimums PromotionMinimums { get; set; } = DataMinimums.DefaultPromotion;

    public double TimeoutMinutes { get; set; } = 5;

    public double PollSeconds { get; set; } = 0.05;

    public bool Rescore { get; set; }

    public Exception? PrepareFailure { get; set; }

    /// <summary>What PlanRescore returns.</summary>
    public RescorePlan Plan { get; set; } = new([Item("r1", 2)], []);

    /// <summary>Partitions ("run/part") that fail on their first attempt.</summary>
    public HashSet<string> FlakyPartitions { get; } = [];

    /// <summary>What CommitRescore received.</summary>
    public RescoreCommit? Committed { get; private set; }

    private int _polls;
    private readonly ConcurrentDictionary<string, int> _attempts = new();

    public int Polls => _polls;

    public static TrainingJobStatus Succeeded(HeldOutComparison comparison) =>
        new(JobState.Succeeded, "progress trainer=xgboost phase=registered step=1/1", null, new TrainingResult { Model = "m@v2", Manifest = "models/m/v2/manifest.json", Auc = comparison.CandidateAuc ?? 0, Comparison = comparison });

    public static RescoreItem Item(string run, int parts) => new(
        "p", "d", run, $"curated/p/d/{run}/_manifest.json", new string('a', 64), "m", "v1", new string('b', 64), ["id"],
        [.. Enumerable.Range(0, parts).Select(i => new RunPart($"curated/p/d/{run}/{StorageLayout.Part(i)}", 10 + i, 100, new string('c', 64)))]);

    public int Attempts(string partition) => _attempts.GetValueOrDefault(partition);

    public void Register(DurableTaskRegistry tasks)
    {
        tasks.AddOrchestratorFunc<TrainModelInput, TrainModelResult>(nameof(TrainingOrchestration.TrainModel), (context, _) => TrainingOrchestration.TrainModel(context));
        tasks.AddOrchestratorFunc<RescoreInput, RescoreResult>(nameof(RescoreOrchestration.RescorePortfolio), (context, _) => RescoreOrchestration.RescorePortfolio(context));
        tasks.AddActivityFunc<TrainModelInput, PreparedTraining>("PrepareTraining", (_, input) =>
        {
            Calls.Enqueue("PrepareTraining");
            if (PrepareFailure is not null)
            {
                throw PrepareFailure;
            }

            var job = new TrainingJobSpec { Input = "curated/p/d/r1/_manifest.json", Model = input.Model ?? "m", Version = "v2", Trainer = input.Trainer };
            return Task.FromResult(new PreparedTraining(job, "r1", 5000, input.TimeoutMinutes ?? TimeoutMinutes, PollSeconds, input.Rescore || Rescore));
        });
        tasks.AddActivityFunc<PreparedTraining, string>("DispatchTrainingJob", (_, prepared) =>
        {
            Calls.Enqueue("DispatchTrainingJob");
            return Task.FromResult($"local-1-{prepared.Job.Model}-{prepared.Job.Version}");
        });
        tasks.AddActivityFunc<JobQuery, TrainingJobStatus>("GetTrainingJobStatus", (_, _) =>
        {
            Calls.Enqueue("GetTrainingJobStatus");
            return Task.FromResult(Status(Interlocked.Increment(ref _polls)));
        });
        tasks.AddActivityFunc<PromotionRequest, PromotionDecision>("DecidePromotion", (_, request) =>
        {
            Calls.Enqueue("DecidePromotion");
            var job = request.Prepared.Job;
            return Task.FromResult(Promotion.Decide(job.Model, job.Version, request.Result.Comparison, CurrentChampion, Margin, PromotionMinimums, "the held-out rows"));
        });
        tasks.AddActivityFunc<PromotionDecision, bool>("PromoteModel", (_, _) =>
        {
            Calls.Enqueue("PromoteModel");
            return Task.FromResult(true);
        });
        tasks.AddActivityFunc<RescoreInput, RescorePlan>("PlanRescore", (_, _) =>
        {
            Calls.Enqueue("PlanRescore");
            return Task.FromResult(Plan);
        });
        tasks.AddActivityFunc<PartitionWork, ScoredPart>("ScorePartition", (_, work) =>
        {
            var key = $"{work.Part.RunId}/{work.Part.Index}";
            Calls.Enqueue("ScorePartition " + key);
            if (_attempts.AddOrUpdate(key, 1, (_, n) => n + 1) == 1 && FlakyPartitions.Contains(key))
            {
                throw new IOException($"transient storage failure on {key}");
            }

            return Task.FromResult(new ScoredPart(new RunPart($"scores/p/d/{work.Part.RunId}/{work.Model}/{StorageLayout.Part(work.Part.Index)}", work.Part.Part.Rows, 50, "d"), [work.Part.Part.Rows], 0.1, 0.1, 0.1));
        });
        tasks.AddActivityFunc<RescoreCommit, RescoreSummary>("CommitRescore", (_, commit) =>
        {
            Calls.Enqueue("CommitRescore");
            Committed = commit;
            var runs = commit.Plan.Items.Select((item, i) => new RescoredRun(item.Partner, item.Dataset, item.RunId, item.ModelId, commit.Parts[i].Sum(p => p.Part.Rows),
                $"scores/p/d/{item.RunId}/{item.ModelId}/_manifest.json", new Dictionary<string, long>(), "unknown", [])).ToList();
            return Task.FromResult(new RescoreSummary(commit.InstanceId, DateTimeOffset.UtcNow, "scores/_rescore/x/summary.json", runs, commit.Plan.Skipped));
        });
    }

    /// <summary>Runs <paramref name="orchestrator"/> with <paramref name="input"/> to its end.</summary>
    public async Task<OrchestrationMetadata> RunAsync(string orchestrator, object input)
    {
        await using var host = await DurableTaskTestHost.StartAsync(Register);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var id = await host.Client.ScheduleNewOrchestrationInstanceAsync(orchestrator, input, timeout.Token);
        return await host.Client.WaitForInstanceCompletionAsync(id, getInputsAndOutputs: true, timeout.Token);
    }
}
