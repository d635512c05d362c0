using System.Text.Json.Nodes;
using FinServerless.Scoring;
using FinServerless.Training.Data;

namespace FinServerless.Training.Trainers;

/// <summary>What every trainer is given besides the data.</summary>
public sealed record TrainerSettings
{
    /// <summary>Hyperparameters as JSON (unknown names are refused).</summary>
    public JsonObject? Parameters { get; init; }

    /// <summary>Seed for every random choice (splits, sampling, initialization).</summary>
    public int Seed { get; init; } = 42;

    /// <summary>"cpu" or "cuda".</summary>
    public string Device { get; init; } = "cpu";

    /// <summary>Threads for the engine (0: the engine's default).</summary>
    public int Threads { get; init; }
}

/// <summary>A trainer: fits a model on training rows, using validation rows for early stopping.</summary>
public interface ITrainer
{
    /// <summary>The trainer's name (xgboost, mlp, scorecard).</summary>
    string Name { get; }

    /// <summary>Trains a model.</summary>
    TrainedModel Train(TrainingTable train, TrainingTable validation, TrainerSettings settings, TrainingProgress progress, CancellationToken cancellationToken);
}

/// <summary>A trained model: its native predictions, its ONNX export, and what scoring needs to know.</summary>
public abstract class TrainedModel : IDisposable
{
    /// <summary>The model's inputs, in order, with the imputation scoring applies.</summary>
    public required IReadOnlyList<FeatureSpec> Features { get; init; }

    /// <summary>Hyperparameters actually used, defaults included.</summary>
    public required IReadOnlyDictionary<string, string> Parameters { get; init; }

    /// <summary>The ONNX output holding the probability, and its column.</summary>
    public required (string Output, int Column) Probability { get; init; }

    /// <summary>What the training itself found (best round, epochs run, ...).</summary>
    public Dictionary<string, double> TrainingFacts { get; } = [];

    /// <summary>Extra files written beside the model (name → content), for example the scorecard table.</summary>
    public Dictionary<string, byte[]> Artifacts { get; } = [];

    /// <summary>An HTML fragment the evaluation report includes (for example the scorecard's points table).</summary>
    public string? ReportSection { get; protected init; }

    /// <summary>Probabilities from the native engine for raw rows (missing values as NaN).</summary>
    public abstract float[] Predict(TrainingTable table);

    /// <summary>How the model explains a score (null: it gives no reason codes).</summary>
    public ReasonModel? Reasons { get; protected init; }

    /// <summary>The model as ONNX.</summary>
    public abstract byte[] ExportOnnx();

    /// <summary>Applies <see cref="Features"/>' imputation to raw rows, as the scorer does before ONNX.</summary>
    public float[] ScoringInput(TrainingTable table) => table.ScoringInput(Features);

    /// <inheritdoc/>
    public virtual void Dispose() => GC.SuppressFinalize(this);
}
