using System.Globalization;

namespace FinServerless.Functions;

/// <summary>
/// Every setting the function app reads, by name (the Bicep sets each of them; a test cross-checks). Values come
/// from the environment, as the Functions host passes app settings (local.settings.json under the dev host).
/// </summary>
public sealed class AppSettings(Func<string, string?> read)
{
    /// <summary>The storage connection (a connection string, or identity-based <c>AzureWebJobsStorage__*</c> settings).</summary>
    public const string Storage = "AzureWebJobsStorage";

    /// <summary>Largest number of rows one synchronous ScoreBatch call accepts (413 beyond). Default 10,000.</summary>
    public const string ScoreMaxRows = "FINSERVERLESS_SCORE_MAX_ROWS";

    /// <summary>Largest ScoreBatch request body in bytes (413 beyond). Default: 2 KiB per row of <see cref="ScoreMaxRows"/>.</summary>
    public const string ScoreMaxBodyBytes = "FINSERVERLESS_SCORE_MAX_BODY_BYTES";

    /// <summary>Largest decompressed size of one ingested file, in bytes. Default 50 GiB.</summary>
    public const string IngestMaxDecompressedBytes = Datasets.Ingest.IngestSettings.MaxDecompressedBytes;

    /// <summary>Largest decompressed:compressed ratio of one ingested gzip file. Default 200.</summary>
    public const string IngestMaxExpansionRatio = Datasets.Ingest.IngestSettings.MaxExpansionRatio;

    /// <summary>Largest number of data rows in one ingested file. Default 100,000,000.</summary>
    public const string IngestMaxRows = Datasets.Ingest.IngestSettings.MaxRows;

    /// <summary>Bytes per curated part, the unit RescorePortfolio fans out over. Default 32 MiB (64 KiB to 64 MiB).</summary>
    public const string IngestPartBytes = Datasets.Ingest.IngestSettings.PartBytes;

    /// <summary>How much a candidate's AUC must exceed the champion's (on the same held-out rows) to be promoted. Default 0.002.</summary>
    public const string PromotionMargin = "FINSERVERLESS_PROMOTION_MARGIN";

    /// <summary>NCRONTAB (six fields) of NightlyRescore, which its timer trigger names as %FINSERVERLESS_RESCORE_SCHEDULE%. Default "0 0 2 * * *".</summary>
    public const string RescoreSchedule = "FINSERVERLESS_RESCORE_SCHEDULE";

    /// <summary>The master scale: grades by calibrated PD, "NAME:UPPER_BOUND,...,TOP". Default "1:0.0025,2:0.005,3:0.01,4:0.02,5:0.04,6:0.08,7:0.15,8:0.3,9".</summary>
    public const string MasterScale = "FINSERVERLESS_MASTER_SCALE";

    /// <summary>Which engine scores models: auto (the tree fast path where it applies), onnxruntime, tree-avx512, tree-avx2, tree-scalar. Default auto.</summary>
    public const string ScoreEngine = Scoring.Trees.ScoreEngines.Setting;

    /// <summary>Reason codes per scored row in score files (0 to 10; 0 writes none). Default 4. TreeSHAP reasons cost far more than the PD itself (bench/results/score.md).</summary>
    public const string ScoreReasons = "FINSERVERLESS_SCORE_REASONS";

    /// <summary>"local" (a process on this machine) or "containerapps" (an Azure Container Apps job). Default local.</summary>
    public const string TrainingDispatcher = "FINSERVERLESS_TRAINING_DISPATCHER";

    /// <summary>Local dispatcher: the trainer command line (default: the training container's build output, run with dotnet).</summary>
    public const string TrainerCommand = "FINSERVERLESS_TRAINER_COMMAND";

    /// <summary>Container Apps dispatcher: the job's resource id (/subscriptions/…/providers/Microsoft.App/jobs/{name}).</summary>
    public const string TrainingJobResourceId = "FINSERVERLESS_TRAINING_JOB_ID";

    /// <summary>Client id of the user-assigned managed identity (ARM calls and storage).</summary>
    public const string ManagedIdentityClientId = "AZURE_CLIENT_ID";

    /// <summary>Device the trainer uses: cpu or cuda. Default cpu.</summary>
    public const string TrainingDevice = "FINSERVERLESS_TRAINING_DEVICE";

    /// <summary>Minutes before TrainModel gives up on a training job. Default 120.</summary>
    public const string TrainingTimeoutMinutes = "FINSERVERLESS_TRAINING_TIMEOUT_MINUTES";

    /// <summary>Seconds between TrainModel's checks of a running job. Default 30.</summary>
    public const string TrainingPollSeconds = "FINSERVERLESS_TRAINING_POLL_SECONDS";

    /// <summary>Fewest labelled rows TrainModel trains on (checked on the curated run, and by the trainer, which gets it). Default 1,000.</summary>
    public const string TrainMinRows = Training.DataMinimums.TrainMinRowsSetting;

    /// <summary>Fewest rows of each class (defaults and non-defaults) TrainModel trains on (checked by the trainer). Default 50.</summary>
    public const string TrainMinClassRows = Training.DataMinimums.TrainMinClassRowsSetting;

    /// <summary>Fewest held-out rows on which EvaluateCandidate decides a promotion; below it the champion stays. Default 200.</summary>
    public const string PromotionMinRows = Training.DataMinimums.PromotionMinRowsSetting;

    /// <summary>Fewest held-out rows of each class on which EvaluateCandidate decides a promotion; below it the champion stays. Default 50.</summary>
    public const string PromotionMinClassRows = Training.DataMinimums.PromotionMinClassRowsSetting;

    /// <summary>Every setting name above (for documentation and the deployment test).</summary>
    public static IReadOnlyList<string> All { get; } =
    [
        Storage, ScoreMaxRows, ScoreMaxBodyBytes, IngestMaxDecompressedBytes, IngestMaxExpansionRatio, IngestMaxRows, PromotionMargin, RescoreSchedule, MasterScale, TrainingDispatcher, TrainerCommand,
        TrainingJobResourceId, ManagedIdentityClientId, TrainingDevice, TrainingTimeoutMinutes, TrainingPollSeconds,
        TrainMinRows, TrainMinClassRows, PromotionMinRows, PromotionMinClassRows,
    ];

    /// <summary>A raw setting.</summary>
    public string? Get(string name) => read(name) is { Length: > 0 } v ? v : null;

    /// <summary>A number setting, with a clear error naming it when it is not a number.</summary>
    public double Number(string name, double fallback, double min = double.MinValue)
    {
        if (Get(name) is not { } text)
        {
            return fallback;
        }

        return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) && v >= min
            ? v
            : throw new InvalidOperationException($"Setting {name} must be a number ≥ {min.ToString(CultureInfo.InvariantCulture)} (got '{text}').");
    }

    /// <summary>The reader itself (for the storage connection's __ settings).</summary>
    public Func<string, string?> Reader => read;
}
