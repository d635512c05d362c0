using System.Runtime.InteropServices;
using FinServerless.Onnx.Writer;
using FinServerless.Scoring;
using FinServerless.Training.Data;
using FinServerless.Training.Evaluation;

namespace FinServerless.Training.Trainers;

/// <summary>
/// A multilayer perceptron trained by libtorch through our C++ shim: ReLU hidden layers with dropout, Adam,
/// binary cross-entropy on logits, early stopping on validation AUC (the best epoch's weights are kept), CUDA
/// when asked for. Inputs are imputed, clipped and standardized (<see cref="FeaturePreparation"/>); the export
/// carries the clipping and standardization in the graph and the imputation in the manifest.
/// </summary>
public sealed class MlpTrainer : ITrainer
{
    /// <summary>Parameter names this trainer accepts.</summary>
    public static readonly string[] Known =
    [
        "hidden", "dropout", "learning_rate", "weight_decay", "batch_size", "epochs", "patience", "positive_weight", "clip_quantile",
    ];

    /// <inheritdoc/>
    public string Name => "mlp";

    /// <inheritdoc/>
    public TrainedModel Train(TrainingTable train, TrainingTable validation, TrainerSettings settings, TrainingProgress progress, CancellationToken cancellationToken)
    {
        var p = new Hyperparameters(Name, settings.Parameters, Known);
        var hidden = p.Sizes("hidden", [64, 32]);
        var dropout = (float)p.Number("dropout", 0.1, 0, 0.9);
        var learningRate = (float)p.Number("learning_rate", 1e-3, 1e-7, 1);
        var weightDecay = (float)p.Number("weight_decay", 0, 0);
        var batch = p.Integer("batch_size", 256, 1, 1 << 20);
        var epochs = p.Integer("epochs", 30, 1, 10_000);
        var patience = p.Integer("patience", 3, 1, 10_000);
        var positiveWeight = (float)p.Number("positive_weight", 1, 1e-6);
        var clip = p.Number("clip_quantile", 0.001, 0, 0.49);
        TorchShim.EnsureLoaded();
        if (settings.Device == "cuda" && !TorchShim.CudaAvailable)
        {
            throw new TrainingInputException("Device 'cuda' was requested but libtorch sees no CUDA device (this shim was built against a CPU libtorch, or no GPU is visible); use --device cpu.");
        }

        var preparation = FeaturePreparation.Fit(train, clip);
        var x = preparation.Apply(train);
        var xValid = preparation.Apply(validation);
        var net = TorchNet.Mlp(train.Columns, hidden, dropout, learningRate, weightDecay, settings);
        try
        {
            net.SetData(x, train.Y, train.Rows);
            var best = (Epoch: 0, Auc: double.NegativeInfinity, Weights: net.GetParameters());
            var epoch = 1;
            for (; epoch <= epochs; epoch++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var loss = net.TrainEpoch(batch, positiveWeight);
                var auc = Metrics.Auc(net.Predict(xValid, validation.Rows), validation.Y);
                progress.Report(Name, "train", epoch, epochs, "valid_auc", auc, $"train loss {loss:0.00000}");
                if (auc > best.Auc)
                {
                    best = (epoch, auc, net.GetParameters());
                }
                else if (epoch - best.Epoch >= patience)
                {
                    break;
                }
            }

            net.SetParameters(best.Weights);
            var model = new Model(net, preparation, hidden, train.Features)
            {
                Features = train.Features.Select((f, j) => new FeatureSpec(f) { Impute = preparation.Median[j] }).ToList(),
                Parameters = p.Resolved,
                Probability = (MlpExport.OutputName, 0),
            };
            model.TrainingFacts["best_epoch"] = best.Epoch;
            model.TrainingFacts["epochs_run"] = Math.Min(epoch, epochs);
            model.TrainingFacts["best_valid_auc"] = best.Auc;
            return model;
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }

    private sealed class Model(TorchNet net, FeaturePreparation preparation, int[] hidden, IReadOnlyList<string> featureNames) : TrainedModel
    {
        public override float[] Predict(TrainingTable table) => net.Predict(preparation.Apply(table), table.Rows);

        public override byte[] ExportOnnx()
        {
            var layers = net.Layers(hidden.Append(1));
            return MlpExport.Write(featureNames, new MlpExport.Preparation(preparation.Low, preparation.High, preparation.Mean, preparation.Scale), layers);
        }

        public override void Dispose()
        {
            net.Dispose();
            base.Dispose();
        }
    }
}
