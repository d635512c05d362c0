using System.Security.Cryptography;
using FinServerless.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Onnx.Writer;
using FinServerless.Scoring;
using FinServerless.Training.Data;
using FinServerless.Training.Trainers;

namespace FinServerless.Training;

/// <summary>A registered outlier model, with its held-out rows and their scores.</summary>
public sealed record OutlierOutcome(ModelManifest Manifest, TrainingTable HeldOut, float[] HeldOutScores);

/// <summary>
/// Trains an autoencoder on a curated run's rows (labelled or not) and registers it as an outlier model: its ONNX
/// export must give the native scores within a relative 1e-5 on every held-out row, and its manifest's
/// <see cref="ModelManifest.Outlier"/> records the training rows' 99th percentile, the cut-off above which a row is an
/// outlier. A signal of data errors, fraud and drift beside PSI.
/// </summary>
public static class OutlierJob
{
    /// <summary>Share of the rows held out to check the export and the cut-off.</summary>
    public const double HoldoutShare = 0.2;

    /// <summary>Trains and registers <paramref name="modelName"/>@<paramref name="version"/> from the run at <paramref name="runManifestPath"/>.</summary>
    public static async Task<OutlierOutcome> RunAsync(
        IRunOutput input, string runManifestPath, IRunOutput output, string modelName, string version, TrainerSettings settings, TrainingProgress progress, CancellationToken cancellationToken = default)
    {
        var name = StorageName.Model(modelName, "model name");
        var (table, run, runSha) = await TrainingTable.LoadAsync(input, runManifestPath, cancellationToken: cancellationToken, labelled: false).ConfigureAwait(false);
        if (table.Rows < 100)
        {
            throw new TrainingInputException($"The rows from {table.Source} are too few for an outlier model ({table.Rows:N0}; at least 100).");
        }

        progress.Report(AutoencoderTrainer.Name, "data", 1, 1, message: $"{table.Rows:N0} rows × {table.Columns} features from run {run.RunId}");
        var all = Enumerable.Range(0, table.Rows).ToArray();
        var (trainRows, heldOutRows) = Folds.Split(table.Y, all, HoldoutShare, settings.Seed);
        var (fitRows, stopRows) = Folds.Split(table.Y, trainRows, TrainingJob.EarlyStoppingShare, settings.Seed + 1);
        var fit = table.Subset(fitRows);
        var heldOut = table.Subset(heldOutRows);
        using var model = AutoencoderTrainer.Train(fit, table.Subset(stopRows), settings, progress, cancellationToken);

        var onnx = model.ExportOnnx();
        var draft = new ModelManifest
        {
            Name = name.Value,
            Version = StorageName.Version(version, "version").Value,
            Trainer = AutoencoderTrainer.Name,
            CreatedAt = DateTimeOffset.UtcNow,
            Features = model.Features,
            Onnx = new OnnxArtifact { Sha256 = Convert.ToHexStringLower(SHA256.HashData(onnx)), ProbabilityOutput = AutoencoderExport.OutputName, ProbabilityColumn = 0 },
            Parameters = model.Parameters,
            Reasons = new ReasonModel { Method = "none", Note = "an outlier score has no reason codes" },
        };

        // The export computes what libtorch computes, on rows it was not fitted on.
        var native = model.Score(heldOut);
        var exported = TrainingJob.PredictOnnx(draft, onnx, heldOut.ScoringInput(model.Features), heldOut.Rows);
        var worst = native.Zip(exported).Max(p => Math.Abs(p.First - p.Second) / Math.Max(1.0, Math.Abs(p.First)));
        if (!(worst <= 1e-5))
        {
            throw new InvalidOperationException($"The ONNX export of the autoencoder differs from libtorch by up to {worst:E2} (relative) on {heldOut.Rows:N0} rows; the model was not registered.");
        }

        var trained = model.Score(fit);
        Array.Sort(trained);
        var quantiles = new Dictionary<string, double>
        {
            ["p50"] = FeaturePreparation.Quantile(trained, 0.5),
            ["p90"] = FeaturePreparation.Quantile(trained, 0.9),
            ["p99"] = FeaturePreparation.Quantile(trained, 0.99),
            ["p99.9"] = FeaturePreparation.Quantile(trained, 0.999),
        };
        var threshold = quantiles["p99"];
        var heldOutAbove = native.Count(s => s > threshold) / (double)native.Length;
        progress.Report(AutoencoderTrainer.Name, "evaluated", 1, 1, "held_out_share_above_p99", heldOutAbove, $"cut-off {threshold:0.0000} (training rows' 99th percentile)");

        var metrics = new Dictionary<string, double>(model.TrainingFacts)
        {
            ["onnx_parity_max_rel_diff"] = worst,
            ["train_rows"] = fit.Rows,
            ["held_out_rows"] = heldOut.Rows,
            ["held_out_share_above_p99"] = heldOutAbove,
            ["held_out_mean_score"] = native.Average(v => (double)v),
        };
        var manifest = draft with
        {
            Metrics = metrics,
            Outlier = new OutlierProfile(threshold, quantiles, fit.Rows),
            CodeVersion = typeof(OutlierJob).Assembly.GetName().Version?.ToString(),
            Lineage = TrainingJob.Lineage(run, runManifestPath, runSha, settings, $"holdout:{HoldoutShare}", $"libtorch {TorchShim.Version}"),
        };
        var registered = await new ModelStore(output).RegisterAsync(manifest, onnx, cancellationToken).ConfigureAwait(false);
        progress.Report(AutoencoderTrainer.Name, "registered", 1, 1, message: registered.Id);
        return new OutlierOutcome(registered, heldOut, native);
    }
}
