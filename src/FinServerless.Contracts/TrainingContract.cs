using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace FinServerless.Contracts;

/// <summary>
/// The state of a training job, as its status file and the job dispatchers report it. An extensible enum: the known
/// states are the static members, and a state this code does not know (a newer trainer's) is kept as it is written.
/// </summary>
[JsonConverter(typeof(JobStateJsonConverter))]
public readonly record struct JobState
{
    private readonly string? _value;

    /// <summary>A state named <paramref name="value"/> (lowercase by convention).</summary>
    public JobState(string value) => _value = string.IsNullOrWhiteSpace(value) ? throw new ArgumentException("A job state needs a name.", nameof(value)) : value;

    /// <summary>Started and not finished.</summary>
    public static JobState Running { get; } = new("running");

    /// <summary>Trained, checked and registered.</summary>
    public static JobState Succeeded { get; } = new("succeeded");

    /// <summary>Ended without a model (bad input, too little data, an engine failure).</summary>
    public static JobState Failed { get; } = new("failed");

    /// <summary>Stopped before the end (SIGTERM, Ctrl+C, a stopped container job).</summary>
    public static JobState Cancelled { get; } = new("cancelled");

    /// <summary>Gone without a final status (the process or execution disappeared).</summary>
    public static JobState Lost { get; } = new("lost");

    /// <summary>The state's name.</summary>
    public string Value => _value ?? "unknown";

    /// <summary>Whether the job has ended (succeeded, failed or cancelled).</summary>
    public bool IsFinal => this == Succeeded || this == Failed || this == Cancelled;

    /// <inheritdoc/>
    public override string ToString() => Value;

    private sealed class JobStateJsonConverter : JsonConverter<JobState>
    {
        public override JobState Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            reader.TokenType == JsonTokenType.String && reader.GetString() is { Length: > 0 } text
                ? new JobState(text)
                : throw new JsonException("A job state is a non-empty string.");

        public override void Write(Utf8JsonWriter writer, JobState value, JsonSerializerOptions options) => writer.WriteStringValue(value.Value);
    }
}

/// <summary>
/// Everything a training job needs, written by TrainModel as <c>models/{model}/{version}/job.json</c> and read by the
/// training container, which is told only where it is (<see cref="LocationSetting"/>). Names are checked when read
/// (<see cref="Check"/>); paths come from <see cref="StorageLayout"/>.
/// </summary>
public sealed record TrainingJobSpec
{
    /// <summary>The one environment variable the orchestration gives the training container: where its job file is (<c>blob://models/{model}/{version}/job.json</c>).</summary>
    public const string LocationSetting = "FINSERVERLESS_TRAIN_JOB";

    /// <summary>Format version.</summary>
    public int SchemaVersion { get; init; } = 1;

    /// <summary>The curated run to train on: <c>curated/{partner}/{dataset}/{run}/_manifest.json</c>.</summary>
    public required string Input { get; init; }

    /// <summary>Model name.</summary>
    public required string Model { get; init; }

    /// <summary>Model version the job registers.</summary>
    public required string Version { get; init; }

    /// <summary>Trainer (xgboost, mlp, scorecard).</summary>
    public required string Trainer { get; init; }

    /// <summary>Hyperparameters (null: the trainer's defaults).</summary>
    public JsonObject? Parameters { get; init; }

    /// <summary>Seed for splits, sampling and initialization.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>holdout:SHARE or kfold:K.</summary>
    public string Validation { get; init; } = "holdout:0.2";

    /// <summary>cpu or cuda.</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Engine threads (0: the engine's choice).</summary>
    public int Threads { get; init; }

    /// <summary>Features in order (null: every column but ids and the target).</summary>
    public IReadOnlyList<string>? Features { get; init; }

    /// <summary>Fewest labelled rows to train on (null: the trainer's default).</summary>
    public long? MinRows { get; init; }

    /// <summary>Fewest rows of each class to train on (null: the trainer's default).</summary>
    public long? MinClassRows { get; init; }

    /// <summary>The platform's master scale (grades by PD, as FINSERVERLESS_MASTER_SCALE writes it) for the report's grade table; null: the default.</summary>
    public string? MasterScale { get; init; }

    /// <summary>
    /// Whether the trainer also scores the model's champion (read when it evaluates) on its held-out rows, so the
    /// promotion is decided from its result with no curated data outside the job.
    /// </summary>
    public bool ScoreChampion { get; init; } = true;

    /// <summary>The run, model and version, validated; <see cref="InvalidNameException"/> names the field.</summary>
    public (StorageName Partner, StorageName Dataset, StorageName Run, ModelReference Model) Check()
    {
        var (partner, dataset, run) = StorageLayout.ParseCuratedManifest(Input, "job input");
        return (partner, dataset, run, ModelReference.Of(StorageName.Model(Model, "job model"), StorageName.Version(Version, "job version")));
    }

    /// <summary>JSON settings of the platform's job files (camelCase, indented, nulls left out).</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>The job file's bytes.</summary>
    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, JsonOptions);

    /// <summary>Reads a job file; <see cref="FormatException"/> names <paramref name="source"/> and what is wrong.</summary>
    public static TrainingJobSpec Parse(ReadOnlySpan<byte> json, string source)
    {
        TrainingJobSpec? spec;
        try
        {
            spec = JsonSerializer.Deserialize<TrainingJobSpec>(json, JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new FormatException($"Training job file {source} is not a valid job: {ex.Message}", ex);
        }

        if (spec is null)
        {
            throw new FormatException($"Training job file {source} is empty.");
        }

        if (spec.SchemaVersion != 1)
        {
            throw new FormatException(string.Create(CultureInfo.InvariantCulture, $"Training job file {source} has schemaVersion {spec.SchemaVersion}; this trainer reads version 1."));
        }

        return spec;
    }
}

/// <summary>What a training job's status file says: its state, latest progress, and how it ended.</summary>
public sealed record TrainingStatus
{
    /// <summary>Running, succeeded, failed, cancelled.</summary>
    public required JobState State { get; init; }

    /// <summary>When this status was written.</summary>
    public DateTimeOffset UpdatedAt { get; init; }

    /// <summary>The trainer's latest progress line.</summary>
    public string? Line { get; init; }

    /// <summary>The process's exit code, once it has one (0 trained, 2 bad input, 1 failure, 130 cancelled).</summary>
    public int? ExitCode { get; init; }

    /// <summary>The result, when the job succeeded.</summary>
    public TrainingResult? Result { get; init; }

    /// <summary>Why the job failed or was cancelled.</summary>
    public TrainingFailure? Failure { get; init; }

    /// <summary>Reads a status file; <see cref="FormatException"/> names <paramref name="source"/>.</summary>
    public static TrainingStatus Parse(ReadOnlySpan<byte> json, string source)
    {
        try
        {
            return JsonSerializer.Deserialize<TrainingStatus>(json, TrainingJobSpec.JsonOptions) ?? throw new FormatException($"Training status {source} is empty.");
        }
        catch (JsonException ex)
        {
            throw new FormatException($"Training status {source} is not a valid status: {ex.Message}", ex);
        }
    }

    /// <summary>The status file's bytes.</summary>
    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, TrainingJobSpec.JsonOptions);
}

/// <summary>Why a job ended without a model; for a data minimum, the setting, what it requires and what was found.</summary>
public sealed record TrainingFailure(string Reason, string? Setting = null, long? Required = null, long? Found = null);

/// <summary>What a successful job produced: the registered model, its evaluation, and the comparison a promotion is decided on.</summary>
public sealed record TrainingResult
{
    /// <summary>"name@version" of the registered model.</summary>
    public required string Model { get; init; }

    /// <summary>Where its manifest is.</summary>
    public required string Manifest { get; init; }

    /// <summary>AUC on the held-out rows.</summary>
    public double Auc { get; init; }

    /// <summary>KS statistic on the held-out rows.</summary>
    public double Ks { get; init; }

    /// <summary>Largest difference between the native model's and the ONNX model's probabilities.</summary>
    public double ParityMaxAbsDiff { get; init; }

    /// <summary>Each fold's AUC under kfold validation.</summary>
    public IReadOnlyList<double>? CvAuc { get; init; }

    /// <summary>The candidate and the champion scored on the same held-out rows.</summary>
    public required HeldOutComparison Comparison { get; init; }
}

/// <summary>
/// The candidate and the champion (if any) scored by the trainer on the same held-out rows of the candidate's run.
/// <see cref="ChampionAuc"/> is null when there is no champion or it could not score those rows (<see cref="ChampionNote"/> says why).
/// </summary>
public sealed record HeldOutComparison(long Rows, long Positives, double? CandidateAuc, string? ChampionVersion = null, double? ChampionAuc = null, string? ChampionNote = null);

/// <summary>Where a model version's training data came from and how it was trained (its manifest's lineage).</summary>
public sealed record ModelLineage
{
    /// <summary>The curated run manifest it was trained on.</summary>
    public string? CuratedManifest { get; init; }

    /// <summary>SHA-256 of that manifest.</summary>
    public string? CuratedManifestSha256 { get; init; }

    /// <summary>Run id.</summary>
    public string? RunId { get; init; }

    /// <summary>Partner.</summary>
    public string? Partner { get; init; }

    /// <summary>Dataset.</summary>
    public string? Dataset { get; init; }

    /// <summary>SHA-256 of the partner's input file.</summary>
    public string? InputSha256 { get; init; }

    /// <summary>Version of the dataset contract that curated the run.</summary>
    public string? ContractVersion { get; init; }

    /// <summary>Target column.</summary>
    public string? Target { get; init; }

    /// <summary>Seed.</summary>
    [JsonNumberHandling(JsonNumberHandling.AllowReadingFromString)]
    public int? Seed { get; init; }

    /// <summary>Validation scheme.</summary>
    public string? Validation { get; init; }

    /// <summary>Device (cpu, cuda).</summary>
    public string? Device { get; init; }

    /// <summary>Training engine and version.</summary>
    public string? Engine { get; init; }

    /// <summary>ONNX Runtime version the export was checked with.</summary>
    public string? OnnxRuntime { get; init; }

    /// <summary>The partner and dataset as validated names, when both are valid.</summary>
    public bool TryDataset([System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out StorageName? partner, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out StorageName? dataset)
    {
        dataset = null;
        return StorageName.TryParse(NameKind.Partner, Partner, out partner, out _) && StorageName.TryParse(NameKind.Dataset, Dataset, out dataset, out _);
    }

    /// <summary>Name and value of every recorded field, for reports.</summary>
    public IEnumerable<(string Name, string Value)> Fields()
    {
        foreach (var (name, value) in new (string, string?)[]
        {
            ("curatedManifest", CuratedManifest), ("curatedManifestSha256", CuratedManifestSha256), ("runId", RunId), ("partner", Partner), ("dataset", Dataset),
            ("inputSha256", InputSha256), ("contractVersion", ContractVersion), ("target", Target), ("seed", Seed?.ToString(CultureInfo.InvariantCulture)),
            ("validation", Validation), ("device", Device), ("engine", Engine), ("onnxRuntime", OnnxRuntime),
        })
        {
            if (value is not null)
            {
                yield return (name, value);
            }
        }
    }
}

/// <summary>
/// <c>curated/{partner}/{dataset}/latest.json</c>: the newest committed run of a dataset, written by ingest after each
/// commit (only forwards: an older run committed later does not move it back), so readers find it without listing.
/// </summary>
public sealed record LatestRunPointer(string RunId, string Manifest, string ManifestSha256, DateTimeOffset CreatedAt)
{
    /// <summary>Whether this pointer names a run at least as new as <paramref name="other"/> (ties broken by run id).</summary>
    public bool IsAtLeastAsNewAs(LatestRunPointer other) =>
        CreatedAt > other.CreatedAt || (CreatedAt == other.CreatedAt && string.CompareOrdinal(RunId, other.RunId) >= 0);
}
