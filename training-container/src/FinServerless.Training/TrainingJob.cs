using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using FinServerless.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Onnx.Sessions;
using FinServerless.Scoring;
using FinServerless.Training.Data;
using FinServerless.Training.Evaluation;
using FinServerless.Training.Trainers;

namespace FinServerless.Training;

/// <summary>What to train.</summary>
public sealed record TrainingRequest
{
    /// <summary>xgboost, mlp or scorecard.</summary>
    public required string Trainer { get; init; }

    /// <summary>Model name (models/{name}/...).</summary>
    public required string ModelName { get; init; }

    /// <summary>Version; null: a UTC timestamp.</summary>
    public string? Version { get; init; }

    /// <summary>Hyperparameters, seed, device, threads.</summary>
    public TrainerSettings Settings { get; init; } = new();

    /// <summary>"holdout:SHARE" (default holdout:0.2) or "kfold:K" (K-fold metrics recorded, the model itself from a 0.2 holdout).</summary>
    public string Validation { get; init; } = "holdout:0.2";

    /// <summary>Features to use, in order (null: every column but ids and the target).</summary>
    public IReadOnlyList<string>? Features { get; init; }

    /// <summary>Largest allowed difference between native and ONNX probabilities.</summary>
    public double ParityTolerance { get; init; } = 1e-5;

    /// <summary>Fewest rows, and rows of each class, to train on (default 1,000 and 50).</summary>
    public DataMinimums Minimums { get; init; } = DataMinimums.DefaultTraining;

    /// <summary>The master scale the evaluation's grade table uses.</summary>
    public RiskBands MasterScale { get; init; } = RiskBands.Default;

    /// <summary>Also score the model's current champion (if any) on the same held-out rows (default true).</summary>
    public bool ScoreChampion { get; init; } = true;
}

/// <summary>A registered model with its evaluation and its comparison with the champion on the same held-out rows.</summary>
public sealed record TrainingOutcome(ModelManifest Manifest, string ManifestPath, EvaluationResult Evaluation, double ParityMaxAbsDiff, IReadOnlyList<double>? FoldAuc, HeldOutComparison Comparison)
{
    /// <summary>The job's typed result, as the status file carries it.</summary>
    public TrainingResult ToResult(string manifestLocation) => new()
    {
        Model = Manifest.Id,
        Manifest = manifestLocation,
        Auc = Evaluation.Auc,
        Ks = Evaluation.Ks,
        ParityMaxAbsDiff = ParityMaxAbsDiff,
        CvAuc = FoldAuc,
        Comparison = Comparison,
    };
}

/// <summary>The training container's job: read a curated run, train, check the ONNX export against the native model, evaluate, register.</summary>
public static class TrainingJob
{
    /// <summary>Names of the trainers.</summary>
    public static IReadOnlyList<string> Trainers { get; } = ["xgboost", "mlp", "scorecard"];

    /// <summary>Share of the training rows set aside for early stopping.</summary>
    public const double EarlyStoppingShare = 0.1;

    /// <summary>The trainer called <paramref name="name"/>.</summary>
    public static ITrainer Create(string name) => name switch
    {
        "xgboost" => new XGBoostTrainer(),
        "mlp" => new MlpTrainer(),
        "scorecard" => new ScorecardTrainer(),
        _ => throw new TrainingInputException($"Unknown trainer '{name}'; choose one of {string.Join(", ", Trainers)}."),
    };

    /// <summary>Parses a validation scheme.</summary>
    public static (double HoldoutShare, int Folds) ParseValidation(string scheme)
    {
        var parts = scheme.Split(':', 2);
        if (parts.Length == 2 && parts[0] == "holdout" && double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out var share) && share is > 0 and < 1)
        {
            return (share, 0);
        }

        if (parts.Length == 2 && parts[0] == "kfold" && int.TryParse(parts[1], CultureInfo.InvariantCulture, out var k) && k is >= 2 and <= 20)
        {
            return (0.2, k);
        }

        throw new TrainingInputException($"Validation scheme '{scheme}' is not understood; use holdout:SHARE (0 < SHARE < 1, for example holdout:0.2) or kfold:K (2 ≤ K ≤ 20).");
    }

    /// <summary>A model fitted on some rows and checked on others; <see cref="Native"/> holds its calibrated probabilities of the evaluation rows.</summary>
    public sealed record Fit(TrainedModel Model, float[] Native, byte[] Onnx, ModelManifest Draft, double ParityMaxAbsDiff) : IDisposable
    {
        /// <inheritdoc/>
        public void Dispose() => Model.Dispose();
    }

    /// <summary>Trains on <paramref name="train"/> (early stopping on a stratified share of it) and predicts <paramref name="evaluation"/> natively and through ONNX Runtime.</summary>
    public static Fit FitAndCheck(ITrainer trainer, TrainingTable train, TrainingTable evaluation, TrainerSettings settings, string modelName, string version, double tolerance, TrainingProgress progress, CancellationToken cancellationToken)
    {
        var (fitRows, stopRows) = Folds.Split(train.Y, Enumerable.Range(0, train.Rows).ToArray(), EarlyStoppingShare, settings.Seed + 1);
        var fitTable = train.Subset(fitRows);
        var stopTable = train.Subset(stopRows);
        fitTable.RequireTrainable("training rows");
        stopTable.RequireTrainable("early-stopping rows");
        var model = trainer.Train(fitTable, stopTable, settings, progress, cancellationToken);
        try
        {
            var native = model.Predict(evaluation);
            var onnx = model.ExportOnnx();
            var draft = new ModelManifest
            {
                Name = modelName,
                Version = version,
                Trainer = trainer.Name,
                CreatedAt = DateTimeOffset.UtcNow,
                Features = [.. model.Features.Select(train.Describe)],
                Onnx = new OnnxArtifact { Sha256 = Convert.ToHexStringLower(SHA256.HashData(onnx)), ProbabilityOutput = model.Probability.Output, ProbabilityColumn = model.Probability.Column },
                Parameters = model.Parameters,
                Reasons = model.Reasons ?? new ReasonModel { Method = "none", Note = $"the {trainer.Name} trainer gives no reason codes yet (an attribution for neural networks is not built)" },
            };
            var onnxProbabilities = PredictOnnx(draft, onnx, model.ScoringInput(evaluation), evaluation.Rows);
            var worst = 0.0;
            for (var i = 0; i < native.Length; i++)
            {
                worst = Math.Max(worst, Math.Abs(native[i] - onnxProbabilities[i]));
            }

            if (!(worst <= tolerance))
            {
                throw new InvalidOperationException($"The ONNX export of the {trainer.Name} model differs from the native model by up to {worst:E2} on {evaluation.Rows:N0} rows (tolerance {tolerance:E0}); the model was not registered.");
            }

            progress.Report(trainer.Name, "parity", 1, 1, "onnx_max_abs_diff", worst);

            // A probability of default must be one: Platt scaling fitted on the early-stopping rows (held out from the
            // fit), recorded in the manifest and applied wherever the model scores; the evaluation rows stay untouched.
            var calibration = ProbabilityCalibration.FitPlatt(model.Predict(stopTable), stopTable.Y, $"the {stopTable.Rows:N0} early-stopping rows (held out from the fit)");
            calibration.ApplyInPlace(native);
            progress.Report(trainer.Name, "calibration", 1, 1, "platt_slope", calibration.Slope, string.Create(CultureInfo.InvariantCulture, $"intercept {calibration.Intercept:0.0000}"));
            return new Fit(model, native, onnx, draft with { Calibration = calibration }, worst);
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Probabilities from the ONNX model, loaded as the scorer loads it.</summary>
    public static float[] PredictOnnx(ModelManifest manifest, byte[] onnx, float[] input, int rows)
    {
        using var loaded = LoadedModel.Load(manifest, onnx, "exported model");
        var f = manifest.Features.Count;
        var result = new float[rows];
        const int batch = 65536;
        for (var start = 0; start < rows; start += batch)
        {
            var n = Math.Min(batch, rows - start);
            loaded.Predict(input.AsMemory(start * f, n * f), n).CopyTo(result, start);
        }

        return result;
    }

    /// <summary>One fold's scores on its test rows: AUC, and Brier score and expected calibration error of the calibrated PD.</summary>
    public sealed record FoldScore(double Auc, double Brier, double Ece);

    /// <summary>Stratified K-fold cross-validation; returns each fold's scores on its held-out rows.</summary>
    public static IReadOnlyList<FoldScore> CrossValidate(ITrainer trainer, TrainingTable table, int k, TrainerSettings settings, TrainingProgress progress, CancellationToken cancellationToken) =>
        CrossValidate(trainer, table, Folds.Plan(table.Y, k, settings.Seed, EarlyStoppingShare), settings, progress, cancellationToken);

    /// <summary>
    /// Cross-validation over a given fold plan, each fold as the job trains: fitted on its fit rows, early-stopped and
    /// calibrated (Platt) on its stop rows, scored on its test rows.
    /// </summary>
    public static IReadOnlyList<FoldScore> CrossValidate(ITrainer trainer, TrainingTable table, IReadOnlyList<Folds.FoldPlan> plan, TrainerSettings settings, TrainingProgress progress, CancellationToken cancellationToken)
    {
        var scores = new List<FoldScore>();
        foreach (var fold in plan)
        {
            var test = table.Subset(fold.Test);
            var stop = table.Subset(fold.Stop);
            using var model = trainer.Train(table.Subset(fold.Fit), stop, settings, TrainingProgress.None, cancellationToken);
            var predicted = model.Predict(test);
            ProbabilityCalibration.FitPlatt(model.Predict(stop), stop.Y, "the fold's stop rows").ApplyInPlace(predicted);
            var evaluation = Metrics.Evaluate(predicted, test.Y);
            scores.Add(new FoldScore(evaluation.Auc, evaluation.Brier, evaluation.Ece));
            progress.Report(trainer.Name, "cross-validation", scores.Count, plan.Count, "fold_auc", evaluation.Auc);
        }

        return scores;
    }

    /// <summary>The whole job: read the curated run from <paramref name="input"/>, train, check, evaluate and register in <paramref name="output"/>.</summary>
    public static async Task<TrainingOutcome> RunAsync(IRunOutput input, string runManifestPath, IRunOutput output, TrainingRequest request, TrainingProgress progress, CancellationToken cancellationToken = default)
    {
        var trainer = Create(request.Trainer);
        if (request.Settings.Device is not ("cpu" or "cuda"))
        {
            throw new TrainingInputException($"Device '{request.Settings.Device}' is not known; use cpu or cuda.");
        }

        var (holdout, k) = ParseValidation(request.Validation);
        var modelName = StorageName.Model(request.ModelName, "model name");
        var version = request.Version ?? DateTimeOffset.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
        var models = new ModelStore(output);
        var champion = request.ScoreChampion ? await ChampionAsync(models, modelName, version, cancellationToken).ConfigureAwait(false) : null;
        var (wide, run, runSha) = await TrainingTable.LoadAsync(input, runManifestPath, request.Features, cancellationToken, champion?.Features.Select(f => f.Name)).ConfigureAwait(false);
        var chosen = request.Features ?? wide.Features;
        var table = wide.Select(chosen);
        table.RequireTrainable();
        request.Minimums.Require(table.Rows, table.Positives, $"The training data from {table.Source}");
        progress.Report(trainer.Name, "data", 1, 1, message: $"{table.Rows:N0} rows × {table.Columns} features, {table.Positives:N0} defaults, from run {run.RunId}" +
            (wide.UnlabelledRows > 0 ? $"; {wide.UnlabelledRows:N0} rows without a label (their outcome not known yet) are not trained on" : string.Empty));

        IReadOnlyList<double>? foldAuc = k > 0 ? [.. CrossValidate(trainer, table, k, request.Settings, progress, cancellationToken).Select(s => s.Auc)] : null;
        var (trainRows, testRows) = Folds.Split(table.Y, Enumerable.Range(0, table.Rows).ToArray(), holdout, request.Settings.Seed);
        var train = table.Subset(trainRows);
        var wideTest = wide.Subset(testRows);
        var test = wideTest.Select(chosen);
        test.RequireTrainable("held-out evaluation rows");
        using var fit = FitAndCheck(trainer, train, test, request.Settings, request.ModelName, version, request.ParityTolerance, progress, cancellationToken);

        var evaluation = Metrics.Evaluate(fit.Native, test.Y, request.MasterScale);
        var metrics = new Dictionary<string, double>(evaluation.Scalars)
        {
            ["onnx_parity_max_abs_diff"] = fit.ParityMaxAbsDiff,
            ["train_rows"] = train.Rows,
        };
        foreach (var (name, value) in fit.Model.TrainingFacts)
        {
            metrics[name] = value;
        }

        if (foldAuc is not null)
        {
            metrics["cv_auc_mean"] = foldAuc.Average();
            metrics["cv_auc_std"] = Math.Sqrt(foldAuc.Average(a => Math.Pow(a - foldAuc.Average(), 2)));
            metrics["cv_folds"] = foldAuc.Count;
        }

        var manifest = fit.Draft with
        {
            Metrics = metrics,
            CodeVersion = typeof(TrainingJob).Assembly.GetName().Version?.ToString(),
            ExtraOutputs = request.Trainer == "scorecard" ? [Onnx.Writer.ScorecardExport.ScoreOutput] : null,
            Lineage = Lineage(run, runManifestPath, runSha, request.Settings, request.Validation, EngineVersion(request.Trainer)) with { Target = run.TargetColumn },
        };

        // A champion with open categories reads them by its own codes: the same held-out rows, read again through them.
        var championHeldOut = wideTest;
        if (champion?.Features.Where(f => f.Categories is not null).ToDictionary(f => f.Name, f => f.Categories!, StringComparer.Ordinal) is { Count: > 0 } championCategories
            && champion.Features.All(f => run.Columns.Contains(f.Name)))
        {
            var (championTable, _, _) = await TrainingTable.LoadAsync(input, runManifestPath, [.. champion.Features.Select(f => f.Name)], cancellationToken, given: championCategories).ConfigureAwait(false);
            championHeldOut = championTable.Subset(testRows);
        }

        var comparison = await CompareWithChampionAsync(models, champion, championHeldOut, evaluation.Auc, progress, trainer.Name, cancellationToken).ConfigureAwait(false);

        var reference = manifest.Reference;
        foreach (var (name, content) in fit.Model.Artifacts)
        {
            await output.WriteAsync(StorageLayout.ModelFile(reference.Model, reference.Version!, name), content, name.EndsWith(".json", StringComparison.Ordinal) ? "application/json" : "application/octet-stream", createOnly: false, cancellationToken).ConfigureAwait(false);
        }

        await output.WriteAsync(StorageLayout.ModelFile(reference, ModelFiles.Evaluation), JsonSerializer.SerializeToUtf8Bytes(evaluation, ModelManifest.JsonOptions), "application/json", createOnly: false, cancellationToken).ConfigureAwait(false);
        await output.WriteAsync(StorageLayout.ModelFile(reference, ModelFiles.Report), System.Text.Encoding.UTF8.GetBytes(EvaluationReport.Html(manifest, evaluation, fit.Model.ReportSection)), "text/html", createOnly: false, cancellationToken).ConfigureAwait(false);
        var registered = await models.RegisterAsync(manifest, fit.Onnx, cancellationToken).ConfigureAwait(false);
        var manifestPath = StorageLayout.ModelFile(reference, ModelFiles.Manifest);
        progress.Report(trainer.Name, "registered", 1, 1, "auc", evaluation.Auc, $"{registered.Id} at {output.Describe(manifestPath)}");
        return new TrainingOutcome(registered, manifestPath, evaluation, fit.ParityMaxAbsDiff, foldAuc, comparison);
    }

    /// <summary>The model's current champion, unless it is the version being trained.</summary>
    private static async Task<ModelManifest?> ChampionAsync(ModelStore models, StorageName model, string version, CancellationToken cancellationToken)
    {
        var champion = await models.GetChampionAsync(model, cancellationToken).ConfigureAwait(false);
        return champion is null || champion.Version == version
            ? null
            : await models.ReadManifestAsync(ModelReference.Of(model, StorageName.Version(champion.Version, "champion version")), cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Scores the champion on the same held-out rows as the candidate, through ONNX Runtime as the scorer would, so
    /// that the promotion is decided from this job's result alone.
    /// </summary>
    private static async Task<HeldOutComparison> CompareWithChampionAsync(
        ModelStore models, ModelManifest? champion, TrainingTable heldOut, double candidateAuc, TrainingProgress progress, string trainer, CancellationToken cancellationToken)
    {
        double? candidate = double.IsFinite(candidateAuc) ? candidateAuc : null;
        if (champion is null)
        {
            return new HeldOutComparison(heldOut.Rows, heldOut.Positives, candidate, ChampionNote: "no champion yet");
        }

        var missing = champion.Features.Select(f => f.Name).Where(f => !heldOut.Features.Contains(f)).ToList();
        if (missing.Count > 0)
        {
            return new HeldOutComparison(heldOut.Rows, heldOut.Positives, candidate, champion.Version, null,
                $"the champion {champion.Version} needs feature(s) {string.Join(", ", missing.Select(m => $"'{m}'"))} that this run lacks");
        }

        using var loaded = await models.LoadAsync(champion.Reference, cancellationToken: cancellationToken).ConfigureAwait(false);
        var auc = Metrics.Auc(loaded.Predict(heldOut.ScoringInput(champion.Features), heldOut.Rows), heldOut.Y);
        progress.Report(trainer, "champion", 1, 1, "champion_auc", auc, $"champion {champion.Id} on the same {heldOut.Rows:N0} held-out rows");
        return new HeldOutComparison(heldOut.Rows, heldOut.Positives, candidate, champion.Version, double.IsFinite(auc) ? auc : null);
    }

    /// <summary>Where a model's rows came from and how it was trained: what every registered model's manifest records.</summary>
    internal static ModelLineage Lineage(RunManifest run, string runManifestPath, string runSha, TrainerSettings settings, string validation, string engine) => new()
    {
        CuratedManifest = runManifestPath,
        CuratedManifestSha256 = runSha,
        RunId = run.RunId,
        Partner = run.Partner,
        Dataset = run.Dataset,
        InputSha256 = run.Input.Sha256,
        ContractVersion = run.Contract.Version,
        Seed = settings.Seed,
        Validation = validation,
        Device = settings.Device,
        Engine = engine,
        OnnxRuntime = OnnxSessions.Version,
    };

    private static string EngineVersion(string trainer) => trainer switch
    {
        "xgboost" => $"XGBoost {XGBoost.Booster.LibraryVersion}",
        "mlp" => $"libtorch {TorchShim.Version}",
        _ => "FinServerless scorecard",
    };
}
