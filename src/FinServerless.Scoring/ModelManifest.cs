using System.Text.Json;
using System.Text.Json.Serialization;
using FinServerless.Contracts;

namespace FinServerless.Scoring;

/// <summary>One model input: the curated column it reads, and what a missing value becomes.</summary>
public sealed record FeatureSpec(string Name)
{
    /// <summary>Value used when the column is empty (null: NaN, which tree models route as missing).</summary>
    public double? Impute { get; init; }

    /// <summary>
    /// For an open category column: the values the model encodes, most frequent in its training rows first; a value
    /// reads as its index here, any other value as <c>Categories.Count</c> ("other"). Null for numeric features.
    /// </summary>
    public IReadOnlyList<string>? Categories { get; init; }

    /// <summary>The contract's adverse-action text for the feature, when it gives one.</summary>
    public string? ReasonText { get; init; }

    /// <summary>A protected characteristic: never given as a reason for a score.</summary>
    public bool Protected { get; init; }
}

/// <summary>Where an outlier model's training rows scored: the cut-off above which a row is unusual, and quantiles.</summary>
/// <param name="Threshold">The 99th percentile of the training rows' scores: a row above it is an outlier.</param>
/// <param name="Quantiles">Training-row score quantiles by name (p50, p90, p99, p99.9).</param>
/// <param name="Rows">Training rows the quantiles come from.</param>
public sealed record OutlierProfile(double Threshold, IReadOnlyDictionary<string, double> Quantiles, long Rows);

/// <summary>Where the ONNX file is and how to read its probability.</summary>
public sealed record OnnxArtifact
{
    /// <summary>File name next to the manifest.</summary>
    public string Path { get; init; } = "model.onnx";

    /// <summary>SHA-256 of the ONNX file; checked before loading.</summary>
    public required string Sha256 { get; init; }

    /// <summary>The model's input (float [N, features]).</summary>
    public string Input { get; init; } = "features";

    /// <summary>The output holding the probability of default.</summary>
    public required string ProbabilityOutput { get; init; }

    /// <summary>Column of <see cref="ProbabilityOutput"/> holding the positive class (1 for [N, 2], 0 for [N, 1]).</summary>
    public int ProbabilityColumn { get; init; } = 1;
}

/// <summary>
/// What a model version is: <c>models/{model}/{version}/manifest.json</c> beside <c>model.onnx</c>. Features
/// (names and order), what scoring applies to them, the ONNX file's fingerprint, metrics and lineage.
/// </summary>
public sealed record ModelManifest
{
    /// <summary>Model name (for example "gmsc-xgboost").</summary>
    public required string Name { get; init; }

    /// <summary>Version (for example "2026.11.22-1").</summary>
    public required string Version { get; init; }

    /// <summary>Trainer that produced it (xgboost, mlp, scorecard, logistic).</summary>
    public string? Trainer { get; init; }

    /// <summary>When it was produced.</summary>
    public DateTimeOffset CreatedAt { get; init; }

    /// <summary>Inputs, in the model's order.</summary>
    public required IReadOnlyList<FeatureSpec> Features { get; init; }

    /// <summary>The ONNX artifact.</summary>
    public required OnnxArtifact Onnx { get; init; }

    /// <summary>How raw outputs become probabilities of default (null: the ONNX output is the probability).</summary>
    public ProbabilityCalibration? Calibration { get; init; }

    /// <summary>How the model explains a score (reason codes), or null when the manifest predates them.</summary>
    public ReasonModel? Reasons { get; init; }

    /// <summary>
    /// For an outlier model (an autoencoder): its output is an outlier score, not a probability of default, and this
    /// says where the training rows' scores lie. Null for credit-risk models.
    /// </summary>
    public OutlierProfile? Outlier { get; init; }

    /// <summary>Evaluation metrics (auc, ks, gini, ...).</summary>
    public IReadOnlyDictionary<string, double>? Metrics { get; init; }

    /// <summary>Where the training data came from (manifest path, SHA-256, ...) and how it was trained.</summary>
    public ModelLineage? Lineage { get; init; }

    /// <summary>Trainer hyperparameters actually used, defaults included.</summary>
    public IReadOnlyDictionary<string, string>? Parameters { get; init; }

    /// <summary>Version of the code that trained it.</summary>
    public string? CodeVersion { get; init; }

    /// <summary>Other outputs of the ONNX model (for example the scorecard's "score" in points).</summary>
    public IReadOnlyList<string>? ExtraOutputs { get; init; }

    /// <summary>"name@version".</summary>
    [JsonIgnore]
    public string Id => $"{Name}@{Version}";

    /// <summary>
    /// A reader of curated rows as this model takes them: its features by name in its order, missing values imputed,
    /// open categories encoded (what every scoring path feeds the model). The reader owns <paramref name="content"/>.
    /// </summary>
    public Datasets.Output.CuratedPartReader OpenReader(Stream content, string source) =>
        new(content, source, [.. Features.Select(f => f.Name)], [.. Features.Select(f => f.Impute)], categories: Features.Any(f => f.Categories is not null) ? [.. Features.Select(f => f.Categories)] : null);

    /// <summary>Name and version as validated names.</summary>
    [JsonIgnore]
    public ModelReference Reference => ModelReference.Of(StorageName.Model(Name, "manifest name"), StorageName.Version(Version, "manifest version"));

    /// <summary>The ONNX file's name, a single validated segment beside the manifest.</summary>
    [JsonIgnore]
    public StorageName OnnxFile => StorageName.File(Onnx.Path, "manifest onnx.path");

    /// <summary>JSON settings for model manifests.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Parses a manifest, naming it in errors.</summary>
    public static ModelManifest Parse(ReadOnlySpan<byte> json, string source)
    {
        try
        {
            var manifest = JsonSerializer.Deserialize<ModelManifest>(json, JsonOptions)
                ?? throw new ModelException($"Model manifest '{source}' is empty.");
            if (manifest.Features.Count == 0)
            {
                throw new ModelException($"Model manifest '{source}' lists no features.");
            }

            try
            {
                _ = manifest.Reference;
                _ = manifest.OnnxFile;
            }
            catch (InvalidNameException ex)
            {
                throw new ModelException($"Model manifest '{source}' is not valid: {ex.Message}", ex);
            }

            return manifest;
        }
        catch (JsonException ex)
        {
            throw new ModelException($"Model manifest '{source}' is not valid: {ex.Message}", ex);
        }
    }
}

/// <summary>A model that cannot be used: missing, tampered with, or not matching the data.</summary>
public class ModelException(string message, Exception? inner = null) : Exception(message, inner);
