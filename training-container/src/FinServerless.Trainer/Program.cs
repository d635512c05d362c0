using FinServerless.Contracts;
using System.Globalization;
using System.Text.Json;
using FinServerless.Training;
using FinServerless.Training.Trainers;

namespace FinServerless.Trainer;

/// <summary>
/// finserverless-train: the training container's whole contract is its options (or the environment variables
/// named beside them). Exit codes: 0 trained and registered, 2 bad input (data or settings), 1 failure.
/// </summary>
public static class TrainerCommand
{
    public const int Success = 0;
    public const int Failure = 1;
    public const int BadInput = 2;

    private static readonly (string Option, string Variable, string Help)[] Options =
    [
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
        ("--min-class-rows", DataMinimums.TrainMinClassRowsSetting, "fewest rows of each class, defaults and non-defaults (default 50; 0: no minimum); fewer is bad input"),
    ];

    /// <summary>Runs the trainer; <paramref name="environment"/> supplies the settings (the process environment in the container).</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, Func<string, string?> environment, CancellationToken cancellationToken)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            stdout.WriteLine("finserverless-train [options]   (each option may be given as the environment variable beside it)\n");
            foreach (var (option, variable, help) in Options)
            {
                stdout.WriteLine($"  {option,-13} {variable,-32} {help}");
            }

            stdout.WriteLine("\nExit codes: 0 trained and registered, 2 bad input (data or settings, too little data), 1 failure, 130 cancelled (Ctrl+C or SIGTERM).");
            return Success;
        }

        StatusWriter? status = null;
        try
        {
            var settings = Settings(args, environment);
            string Require(string option) => settings.TryGetValue(option, out var v) && !string.IsNullOrWhiteSpace(v)
                ? v
                : throw new TrainingInputException($"{option} (or {Options.First(o => o.Option == option).Variable}) is required; run with --help for the options.");

            var input = StoreLocation.Parse(Require("--input"), "curated", "--input", environment);
            var output = StoreLocation.Parse(Require("--output"), "models", "--output", environment);
            var segments = output.Path.Split('/');
            StorageName modelName;
            StorageName? versionName;
            try
            {
                _ = StorageLayout.ParseCuratedManifest(input.Path, "--input");
                if (segments.Length is < 2 or > 3 || segments[0] != StorageLayout.ModelsContainer)
                {
                    throw new InvalidNameException("--output", NameKind.Model, "it must name models/{name} or models/{name}/{version}");
                }

                modelName = StorageName.Model(segments[1], "--output");
                versionName = segments.Length == 3 ? StorageName.Version(segments[2], "--output") : null;
                if (settings.TryGetValue("--status", out var statusUri))
                {
                    var location = StoreLocation.Parse(statusUri, "models", "--status", environment);
                    if (location.Path.Split('/') is not [StorageLayout.ModelsContainer, var m, _, _] || m != modelName.Value)
                    {
                        throw new InvalidNameException("--status", NameKind.File, "it must be a file of the model's own folder, models/{name}/{version}/{file}");
                    }

                    _ = StorageName.Version(location.Path.Split('/')[2], "--status");
                    _ = StorageName.File(location.Path.Split('/')[3], "--status");
                    status = new StatusWriter(location.Store, location.Path);
                }
            }
            catch (InvalidNameException ex)
            {
                throw new TrainingInputException(ex.Message);
            }

            var request = new TrainingRequest
            {
                Trainer = Require("--trainer"),
                ModelName = modelName.Value,
                Version = versionName?.Value,
                Validation = settings.GetValueOrDefault("--validation", "holdout:0.2"),
                Features = settings.TryGetValue("--features", out var features) ? features.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries) : null,
                Minimums = DataMinimums.Training(name => settings.GetValueOrDefault(Options.First(o => o.Variable == name).Option)),
                Settings = new TrainerSettings
                {
                    Parameters = Hyperparameters.ParseJson(settings.GetValueOrDefault("--params"), "--params"),
                    Seed = Integer(settings, "--seed", 42),
                    Device = settings.GetValueOrDefault("--device", "cpu"),
                    Threads = Integer(settings, "--threads", 0),
                },
            };

            var progress = new TrainingProgress(stdout, status is null ? null : status.Update);
            var outcome = await TrainingJob.RunAsync(input.Store, input.Path, output.Store, request, progress, cancellationToken);
            var summary = new
            {
                state = "succeeded",
                model = outcome.Manifest.Id,
                manifest = output.Store.Describe(outcome.ManifestPath),
                auc = outcome.Evaluation.Auc,
                ks = outcome.Evaluation.Ks,
                parityMaxAbsDiff = outcome.ParityMaxAbsDiff,
                cvAuc = outcome.FoldAuc,
            };
            stdout.WriteLine("result " + JsonSerializer.Serialize(summary));
            if (status is not null)
            {
                await status.FinishAsync("succeeded", summary, Success);
            }

            return Success;
        }
        catch (InsufficientDataException ex)
        {
            // Too little data: refused before any training, with the minimum, what was found and the setting to change.
            stderr.WriteLine($"bad input: {ex.Message}");
            await (status?.FinishAsync("failed", new { reason = ex.Message, minimum = ex.Minimum.Setting, required = ex.Minimum.Required, found = ex.Minimum.Found }, BadInput) ?? Task.CompletedTask);
            return BadInput;
        }
        catch (Exception ex) when (ex is TrainingInputException or FinServerless.Scoring.ModelException)
        {
            stderr.WriteLine($"bad input: {ex.Message}");
            await (status?.FinishAsync("failed", new { reason = ex.Message }, BadInput) ?? Task.CompletedTask);
            return BadInput;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            stderr.WriteLine("cancelled");
            await (status?.FinishAsync("cancelled", new { reason = "cancelled" }, 130) ?? Task.CompletedTask);
            return 130;
        }
        catch (Exception ex)
        {
            stderr.WriteLine($"training failed: {ex.Message}");
            await (status?.FinishAsync("failed", new { reason = ex.Message }, Failure) ?? Task.CompletedTask);
            return Failure;
        }
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
