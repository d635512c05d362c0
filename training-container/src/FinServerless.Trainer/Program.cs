using FinServerless.Datasets.Ingest;
using FinServerless.Contracts;
using System.Globalization;
using System.Text.Json;
using FinServerless.Training;
using FinServerless.Training.Trainers;

namespace FinServerless.Trainer;

/// <summary>
/// finserverless-train: trains one model from a curated run. Its contract is either a job file (<c>--job</c>, or the
/// variable <see cref="TrainingJobSpec.LocationSetting"/>: what TrainModel writes, the whole job) or the options below
/// (or the environment variables beside them), for a run by hand. Exit codes: 0 trained and registered, 2 bad input
/// (data or settings), 1 failure, 130 cancelled.
/// </summary>
public static class TrainerCommand
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int BadInput = 2;
    public const int Cancelled = 130;

    private const string JobOption = "--job";

    private static readonly (string Option, string Variable, string Help)[] Options =
    [
        (JobOption, TrainingJobSpec.LocationSetting, "a job file, models/{name}/{version}/job.json (blob://..., a blob URL or a path under a 'models' folder): the whole job; no other option goes with it"),
        ("--input", "FINSERVERLESS_TRAIN_INPUT", "curated run manifest: blob://curated/..., a blob URL, or a path under a 'curated' folder"),
        ("--output", "FINSERVERLESS_TRAIN_OUTPUT", "model location: blob://models/{name}[/{version}], a blob URL, or a path under a 'models' folder"),
        ("--trainer", "FINSERVERLESS_TRAIN_TRAINER", "xgboost | mlp | scorecard"),
        ("--params", "FINSERVERLESS_TRAIN_PARAMS", "hyperparameters as a JSON object (default: the trainer's defaults)"),
        ("--seed", "FINSERVERLESS_TRAIN_SEED", "seed for splits, sampling and initialization (default 42)"),
        ("--validation", "FINSERVERLESS_TRAIN_VALIDATION", "holdout:SHARE (default holdout:0.2) or kfold:K"),
        ("--device", "FINSERVERLESS_TRAIN_DEVICE", "cpu (default) | cuda"),
        ("--threads", "FINSERVERLESS_TRAIN_THREADS", "engine threads (default: the engine's choice)"),
        ("--features", "FINSERVERLESS_TRAIN_FEATURES", "comma-separated features (default: every column but ids and the target)"),
        ("--status", "FINSERVERLESS_TRAIN_STATUS", "where to write status JSON as training goes (same forms as --output, for example blob://models/{name}/{version}/status.json)"),
        ("--min-rows", DataMinimums.TrainMinRowsSetting, "fewest labelled rows to train on (default 1000; 0: no minimum); fewer is bad input"),
        ("--master-scale", "FINSERVERLESS_TRAIN_MASTER_SCALE", "grades by PD for the report's grade table, NAME:UPPER_BOUND,...,TOP (default " + FinServerless.Scoring.RiskBands.DefaultText + ")"),
        ("--min-class-rows", DataMinimums.TrainMinClassRowsSetting, "fewest rows of each class, defaults and non-defaults (default 50; 0: no minimum); fewer is bad input"),
    ];

    /// <summary>What one run trains: where the data is, where the model goes, the request, and where the status goes.</summary>
    private sealed record Plan(IRunOutput InputStore, string InputPath, IRunOutput OutputStore, TrainingRequest Request, StatusWriter? Status);

    /// <summary>Runs the trainer; <paramref name="environment"/> supplies the settings (the process environment in the container).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, Func<string, string?> environment, CancellationToken cancellationToken)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            stdout.WriteLine("finserverless-train [options]   (each option may be given as the environment variable beside it)\n");
            foreach (var (option, variable, help) in Options)
            {
                stdout.WriteLine($"  {option,-16} {variable,-36} {help}");
            }

            stdout.WriteLine("\nExit codes: 0 trained and registered, 2 bad input (data or settings, too little data), 1 failure, 130 cancelled (Ctrl+C or SIGTERM).");
            return Success;
        }

        StatusWriter? status = null;
        try
        {
            var plan = await PlanAsync(args, environment, s => status = s, cancellationToken);
            var progress = new TrainingProgress(stdout, status is null ? null : status.Update);
            var outcome = await TrainingJob.RunAsync(plan.InputStore, plan.InputPath, plan.OutputStore, plan.Request, progress, cancellationToken);
            var result = outcome.ToResult(plan.OutputStore.Describe(outcome.ManifestPath));
            stdout.WriteLine("result " + JsonSerializer.Serialize(result, JsonSerializerOptions.Web));
            await (status?.FinishAsync(JobState.Succeeded, Success, result) ?? Task.CompletedTask);
            return Success;
        }
        catch (InsufficientDataException ex)
        {
            // Too little data: refused before any training, with the minimum, what was found and the setting to change.
            stderr.WriteLine($"bad input: {ex.Message}");
            await (status?.FinishAsync(JobState.Failed, BadInput, failure: new TrainingFailure(ex.Message, ex.Minimum.Setting, ex.Minimum.Required, ex.Minimum.Found)) ?? Task.CompletedTask);
            return BadInput;
        }
        catch (Exception ex) when (ex is TrainingInputException or FinServerless.Scoring.ModelException or InvalidNameException)
        {
            stderr.WriteLine($"bad input: {ex.Message}");
            await (status?.FinishAsync(JobState.Failed, BadInput, failure: new TrainingFailure(ex.Message)) ?? Task.CompletedTask);
            return BadInput;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            stderr.WriteLine("cancelled");
            await (status?.FinishAsync(JobState.Cancelled, Cancelled, failure: new TrainingFailure("cancelled")) ?? Task.CompletedTask);
            return Cancelled;
        }
        catch (Exception ex)
        {
            stderr.WriteLine($"training failed: {ex.Message}");
            await (status?.FinishAsync(JobState.Failed, Failure, failure: new TrainingFailure(ex.Message)) ?? Task.CompletedTask);
            return Failure;
        }
    }

    private static Task<Plan> PlanAsync(string[] args, Func<string, string?> environment, Action<StatusWriter> statusFound, CancellationToken cancellationToken)
    {
        var settings = Settings(args, environment);
        if (settings.TryGetValue(JobOption, out var job))
        {
            var others = args.Where(a => a.StartsWith("--", StringComparison.Ordinal) && a != JobOption).ToList();
            return others.Count > 0
                ? throw new TrainingInputException($"A job file is the whole job; {string.Join(", ", others)} cannot be given with {JobOption} (or {TrainingJobSpec.LocationSetting}).")
                : FromJobAsync(job, environment, statusFound, cancellationToken);
        }

        return Task.FromResult(FromOptions(settings, environment, statusFound));
    }

    /// <summary>A job file written by TrainModel: <c>models/{name}/{version}/job.json</c>, whose status goes beside it.</summary>
    private static async Task<Plan> FromJobAsync(string uri, Func<string, string?> environment, Action<StatusWriter> statusFound, CancellationToken cancellationToken)
    {
        var location = StoreLocation.Parse(uri, StorageLayout.ModelsContainer, JobOption, environment);
        if (location.Path.Split('/') is not [StorageLayout.ModelsContainer, var m, var v, ModelFiles.Job])
        {
            throw new InvalidNameException(JobOption, NameKind.File, $"a job file is {StorageLayout.ModelsContainer}/{{name}}/{{version}}/{ModelFiles.Job}");
        }

        var folder = ModelReference.Of(StorageName.Model(m, JobOption), StorageName.Version(v, JobOption));
        var status = new StatusWriter(location.Store, StorageLayout.ModelFile(folder, ModelFiles.Status));
        statusFound(status);
        var source = location.Store.Describe(location.Path);
        var bytes = await location.Store.ReadAsync(location.Path, cancellationToken)
            ?? throw new TrainingInputException($"The job file {source} does not exist.");
        TrainingJobSpec spec;
        try
        {
            spec = TrainingJobSpec.Parse(bytes, source);
        }
        catch (FormatException ex)
        {
            throw new TrainingInputException(ex.Message, ex);
        }

        var (_, _, _, model) = spec.Check();
        if (model.ToString() != folder.ToString())
        {
            throw new TrainingInputException($"The job file {source} describes model {model}, not the {folder} whose folder it is in.");
        }

        var defaults = DataMinimums.DefaultTraining;
        var request = new TrainingRequest
        {
            Trainer = spec.Trainer,
            ModelName = spec.Model,
            Version = spec.Version,
            Validation = spec.Validation,
            Features = spec.Features,
            Minimums = defaults with { Rows = spec.MinRows ?? defaults.Rows, ClassRows = spec.MinClassRows ?? defaults.ClassRows },
            ScoreChampion = spec.ScoreChampion,
            MasterScale = Scale(spec.MasterScale, "the job's masterScale"),
            Settings = new TrainerSettings
            {
                Parameters = Hyperparameters.ParseJson(spec.Parameters?.ToJsonString(), "the job's parameters"),
                Seed = spec.Seed,
                Device = spec.Device,
                Threads = spec.Threads,
            },
        };
        return new Plan(location.Store, spec.Input, location.Store, request, status);
    }

    private static Plan FromOptions(Dictionary<string, string> settings, Func<string, string?> environment, Action<StatusWriter> statusFound)
    {
        string Require(string option) => settings.TryGetValue(option, out var v) && !string.IsNullOrWhiteSpace(v)
            ? v
            : throw new TrainingInputException($"{option} (or {Options.First(o => o.Option == option).Variable}) is required; run with --help for the options.");

        var input = StoreLocation.Parse(Require("--input"), StorageLayout.CuratedContainer, "--input", environment);
        var output = StoreLocation.Parse(Require("--output"), StorageLayout.ModelsContainer, "--output", environment);
        var segments = output.Path.Split('/');
        _ = StorageLayout.ParseCuratedManifest(input.Path, "--input");
        if (segments.Length is < 2 or > 3 || segments[0] != StorageLayout.ModelsContainer)
        {
            throw new InvalidNameException("--output", NameKind.Model, "it must name models/{name} or models/{name}/{version}");
        }

        var modelName = StorageName.Model(segments[1], "--output");
        var versionName = segments.Length == 3 ? StorageName.Version(segments[2], "--output") : null;
        StatusWriter? status = null;
        if (settings.TryGetValue("--status", out var statusUri))
        {
            var location = StoreLocation.Parse(statusUri, StorageLayout.ModelsContainer, "--status", environment);
            if (location.Path.Split('/') is not [StorageLayout.ModelsContainer, var m, var v, var file] || m != modelName.Value)
            {
                throw new InvalidNameException("--status", NameKind.File, "it must be a file of the model's own folder, models/{name}/{version}/{file}");
            }

            _ = StorageName.Version(v, "--status");
            _ = StorageName.File(file, "--status");
            status = new StatusWriter(location.Store, location.Path);
            statusFound(status);
        }

        var request = new TrainingRequest
        {
            Trainer = Require("--trainer"),
            ModelName = modelName.Value,
            Version = versionName?.Value,
            Validation = settings.GetValueOrDefault("--validation", "holdout:0.2"),
            Features = settings.TryGetValue("--features", out var features) ? features.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : null,
            Minimums = DataMinimums.Training(name => settings.GetValueOrDefault(Options.First(o => o.Variable == name).Option)),
            MasterScale = Scale(settings.GetValueOrDefault("--master-scale"), "--master-scale"),
            Settings = new TrainerSettings
            {
                Parameters = Hyperparameters.ParseJson(settings.GetValueOrDefault("--params"), "--params"),
                Seed = Integer(settings, "--seed", 42),
                Device = settings.GetValueOrDefault("--device", "cpu"),
                Threads = Integer(settings, "--threads", 0),
            },
        };
        return new Plan(input.Store, input.Path, output.Store, request, status);
    }

    private static Dictionary<string, string> Settings(string[] args, Func<string, string?> environment)
    {
        var values = new Dictionary<string, string>();
        foreach (var (option, variable, _) in Options)
        {
            if (environment(variable) is { Length: > 0 } v)
            {
                values[option] = v;
            }
        }

        for (var i = 0; i < args.Length; i++)
        {
            if (!Options.Any(o => o.Option == args[i]))
            {
                throw new TrainingInputException($"Unknown option '{args[i]}'; run with --help for the options.");
            }

            if (i + 1 >= args.Length)
            {
                throw new TrainingInputException($"Option {args[i]} needs a value.");
            }

            values[args[i]] = args[++i];
        }

        return values;
    }

    private static FinServerless.Scoring.RiskBands Scale(string? text, string what)
    {
        try
        {
            return text is null ? FinServerless.Scoring.RiskBands.Default : FinServerless.Scoring.RiskBands.Parse(text, what);
        }
        catch (ArgumentException ex)
        {
            throw new TrainingInputException(ex.Message, ex);
        }
    }

    private static int Integer(Dictionary<string, string> settings, string option, int fallback) =>
        !settings.TryGetValue(option, out var text) ? fallback
        : int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) && v >= 0 ? v
        : throw new TrainingInputException($"{option} must be a whole number ≥ 0 (got '{text}').");
}

/// <summary>The process entry point.</summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };

        // SIGTERM (a container job stopped, the dev host shutting down) cancels like Ctrl+C: the status says "cancelled".
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            cancel.Cancel();
        });

        return await TrainerCommand.RunAsync(args, Console.Out, Console.Error, Environment.GetEnvironmentVariable, cancel.Token);
    }
}
