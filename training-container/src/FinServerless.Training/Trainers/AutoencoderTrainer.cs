using FinServerless.Onnx.Writer;
using FinServerless.Scoring;
using FinServerless.Training.Data;

namespace FinServerless.Training.Trainers;

/// <summary>
/// A dense autoencoder trained by libtorch through our shim on a dataset's curated rows: inputs imputed with the
/// median and standardized (not clipped, so a value far outside the training range stays far), ReLU layers down to a
/// bottleneck and back, mean squared reconstruction error, Adam, early stopping on the validation rows' error (the
/// best epoch's weights are kept). A row's outlier score is its mean squared reconstruction error; the export
/// computes it in the ONNX graph.
/// </summary>
public static class AutoencoderTrainer
{
    /// <summary>The trainer's name in manifests.</summary>
    public const string Name = "autoencoder";

    /// <summary>Parameter names this trainer accepts.</summary>
    public static readonly string[] Known = ["hidden", "learning_rate", "weight_decay", "batch_size", "epochs", "patience"];

    /// <summary>Trains on <paramref name="train"/>, stopping early on <paramref name="validation"/>'s reconstruction error.</summary>
    public static AutoencoderModel Train(TrainingTable train, TrainingTable validation, TrainerSettings settings, TrainingProgress progress, CancellationToken cancellationToken)
    {
        var p = new Hyperparameters(Name, settings.Parameters, Known);
        var f = train.Columns;
        var hidden = p.Sizes("hidden", [Math.Max(4, f / 2), Math.Max(2, f / 4), Math.Max(4, f / 2)]);
        var learningRate = (float)p.Number("learning_rate", 1e-3, 1e-7, 1);
        var weightDecay = (float)p.Number("weight_decay", 0, 0);
        var batch = p.Integer("batch_size", 256, 1, 1 << 20);
        var epochs = p.Integer("epochs", 60, 1, 10_000);
        var patience = p.Integer("patience", 5, 1, 10_000);
        TorchShim.EnsureLoaded();
        if (settings.Device == "cuda" && !TorchShim.CudaAvailable)
        {
            throw new TrainingInputException("Device 'cuda' was requested but libtorch sees no CUDA device; use --device cpu.");
        }

        // Standardized on the training rows, never clipped: an outlier must keep its distance.
        var fitted = FeaturePreparation.Fit(train, 0);
        var preparation = fitted with
        {
            Low = Enumerable.Repeat(float.NegativeInfinity, f).ToArray(),
            High = Enumerable.Repeat(float.PositiveInfinity, f).ToArray(),
        };
        var x = preparation.Apply(train);
        var xValid = preparation.Apply(validation);
        var net = TorchNet.Autoencoder(f, hidden, learningRate, weightDecay, settings);
        try
        {
            net.SetData(x, null, train.Rows);
            var best = (Epoch: 0, Error: double.PositiveInfinity, Weights: net.GetParameters());
            var epoch = 1;
            for (; epoch <= epochs; epoch++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var loss = net.TrainEpoch(batch);
                var error = net.Predict(xValid, validation.Rows).Average(v => (double)v);
                progress.Report(Name, "train", epoch, epochs, "valid_reconstruction_error", error, $"train loss {loss:0.00000}");
                if (error < best.Error)
                {
                    best = (epoch, error, net.GetParameters());
                }
                else if (epoch - best.Epoch >= patience)
                {
                    break;
                }
            }

            net.SetParameters(best.Weights);
            var model = new AutoencoderModel(net, preparation, hidden, train.Features)
            {
                Features = train.Features.Select((name, j) => train.Describe(new FeatureSpec(name) { Impute = preparation.Median[j] })).ToList(),
                Parameters = p.Resolved,
            };
            model.TrainingFacts["best_epoch"] = best.Epoch;
            model.TrainingFacts["epochs_run"] = Math.Min(epoch, epochs);
            model.TrainingFacts["best_valid_reconstruction_error"] = best.Error;
            return model;
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }
}

/// <summary>A trained autoencoder: native outlier scores and the ONNX export that computes the same.</summary>
public sealed class AutoencoderModel : IDisposable
{
    private readonly TorchNet _net;
    private readonly FeaturePreparation _preparation;
    private readonly int[] _hidden;
    private readonly IReadOnlyList<string> _names;

    internal AutoencoderModel(TorchNet net, FeaturePreparation preparation, int[] hidden, IReadOnlyList<string> names)
    {
        (_net, _preparation, _hidden, _names) = (net, preparation, hidden, names);
    }

    /// <summary>The model's inputs with the median imputation scoring applies.</summary>
    public required IReadOnlyList<FeatureSpec> Features { get; init; }

    /// <summary>Hyperparameters actually used, defaults included.</summary>
    public required IReadOnlyDictionary<string, string> Parameters { get; init; }

    /// <summary>What the training found (best epoch, epochs run, validation error).</summary>
    public Dictionary<string, double> TrainingFacts { get; } = [];

    /// <summary>Each row's outlier score (mean squared reconstruction error of its standardized features), natively.</summary>
    public float[] Score(TrainingTable table) => _net.Predict(_preparation.Apply(table), table.Rows);

    /// <summary>The model as ONNX (output <see cref="AutoencoderExport.OutputName"/>).</summary>
    public byte[] ExportOnnx() => AutoencoderExport.Write(
        _names,
        new MlpExport.Preparation(_preparation.Low, _preparation.High, _preparation.Mean, _preparation.Scale),
        _net.Layers(_hidden.Append(_names.Count)));

    /// <inheritdoc/>
    public void Dispose() => _net.Dispose();
}
