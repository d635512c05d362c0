using System.Globalization;
using System.Text.RegularExpressions;
using FinServerless.Onnx.Writer;
using FinServerless.Scoring;
using FinServerless.Training.Data;
using FinServerless.XGBoost;

namespace FinServerless.Training.Trainers;

/// <summary>
/// Gradient-boosted trees through XGBoost's C API: histogram method, early stopping on validation AUC, and
/// class-imbalance weighting (scale_pos_weight, "balanced" = negatives / positives by default). The model kept is
/// sliced to the best round; it is exported as an ONNX TreeEnsembleClassifier.
/// </summary>
public sealed partial class XGBoostTrainer : ITrainer
{
    /// <summary>Parameter names this trainer accepts.</summary>
    public static readonly string[] Known =
    [
        "eta", "max_depth", "min_child_weight", "subsample", "colsample_bytree", "lambda", "alpha", "gamma",
        "max_bin", "num_boost_round", "early_stopping_rounds", "scale_pos_weight",
    ];

    /// <inheritdoc/>
    public string Name => "xgboost";

    /// <summary>The booster parameters (XGBoost names) a trainer would set for these hyperparameters; shared with the Python twin.</summary>
    public static (Dictionary<string, string> Booster, int Rounds, int Patience, Hyperparameters Resolved) Resolve(TrainerSettings settings, TrainingTable train)
    {
        var p = new Hyperparameters("xgboost", settings.Parameters, Known);
        string F(double v) => v.ToString(CultureInfo.InvariantCulture);
        var booster = new Dictionary<string, string>
        {
            ["objective"] = "binary:logistic",
            ["eval_metric"] = "auc",
            ["tree_method"] = settings.Device == "cuda" ? "gpu_hist" : "hist",
            ["eta"] = F(p.Number("eta", 0.05, 1e-6, 1)),
            ["max_depth"] = F(p.Integer("max_depth", 4, 1, 32)),
            ["min_child_weight"] = F(p.Number("min_child_weight", 1, 0)),
            ["subsample"] = F(p.Number("subsample", 0.8, 1e-3, 1)),
            ["colsample_bytree"] = F(p.Number("colsample_bytree", 0.8, 1e-3, 1)),
            ["lambda"] = F(p.Number("lambda", 1, 0)),
            ["alpha"] = F(p.Number("alpha", 0, 0)),
            ["gamma"] = F(p.Number("gamma", 0, 0)),
            ["max_bin"] = F(p.Integer("max_bin", 256, 2, 4096)),
            ["seed"] = settings.Seed.ToString(CultureInfo.InvariantCulture),
        };
        var (weight, keyword) = p.NumberOrKeyword("scale_pos_weight", "balanced", "balanced", "none");
        var positives = train.Positives;
        booster["scale_pos_weight"] = F(keyword switch
        {
            "balanced" => (train.Rows - positives) / (double)Math.Max(1, positives),
            "none" => 1,
            _ => weight!.Value,
        });
        if (settings.Threads > 0)
        {
            booster["nthread"] = settings.Threads.ToString(CultureInfo.InvariantCulture);
        }

        return (booster, p.Integer("num_boost_round", 1000, 1, 100_000), p.Integer("early_stopping_rounds", 50, 1, 100_000), p);
    }

    /// <inheritdoc/>
    public TrainedModel Train(TrainingTable train, TrainingTable validation, TrainerSettings settings, TrainingProgress progress, CancellationToken cancellationToken)
    {
        var (parameters, rounds, patience, resolved) = Resolve(settings, train);
        using var dtrain = new DMatrix(train.X, train.Rows, train.Columns, train.Y);
        using var dvalid = new DMatrix(validation.X, validation.Rows, validation.Columns, validation.Y);
        using var booster = new Booster(dtrain, dvalid);
        foreach (var (name, value) in parameters)
        {
            booster.SetParameter(name, value);
        }

        var best = (Round: -1, Auc: double.NegativeInfinity);
        var round = 0;
        for (; round < rounds; round++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            booster.UpdateOneIteration(round, dtrain);
            var auc = ParseMetric(booster.EvaluateOneIteration(round, (dvalid, "valid")));
            if (auc > best.Auc)
            {
                best = (round, auc);
            }

            if (round % 10 == 0 || round == rounds - 1)
            {
                progress.Report(Name, "train", round + 1, rounds, "valid_auc", auc);
            }

            if (round - best.Round >= patience)
            {
                progress.Report(Name, "train", round + 1, rounds, "valid_auc", auc, $"early stop: best round {best.Round + 1} (valid AUC {best.Auc:0.0000})");
                break;
            }
        }

        var model = new Model(booster.Slice(0, best.Round + 1), train.Features, ReasonModel.TreeShapModel)
        {
            Features = train.Features.Select(f => new FeatureSpec(f)).ToList(),
            Parameters = resolved.Resolved,
            Probability = (XGBoostTreeExport.ProbabilitiesOutput, 1),
        };
        model.TrainingFacts["best_round"] = best.Round + 1;
        model.TrainingFacts["rounds_run"] = Math.Min(round + 1, rounds);
        model.TrainingFacts["best_valid_auc"] = best.Auc;
        model.TrainingFacts["scale_pos_weight"] = double.Parse(parameters["scale_pos_weight"], CultureInfo.InvariantCulture);
        return model;
    }

    private static double ParseMetric(string line)
    {
        var match = MetricPattern().Match(line);
        return match.Success
            ? double.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"XGBoost's evaluation line '{line}' has no valid-auc.");
    }

    [GeneratedRegex(@"valid-auc:([0-9.eE+-]+)")]
    private static partial Regex MetricPattern();

    private sealed class Model(Booster booster, IReadOnlyList<string> featureNames) : TrainedModel
    {
        /// <summary>A trained model, explained by exact TreeSHAP over its exported trees.</summary>
        public Model(Booster booster, IReadOnlyList<string> featureNames, ReasonModel reasons)
            : this(booster, featureNames)
        {
            Reasons = reasons;
        }

        public override float[] Predict(TrainingTable table)
        {
            using var matrix = new DMatrix(table.X, table.Rows, table.Columns);
            return booster.Predict(matrix);
        }

        public override byte[] ExportOnnx()
        {
            var json = booster.SaveJson();
            Artifacts["xgboost-model.json"] = json;
            return XGBoostTreeExport.Convert(json, featureNames);
        }

        public override void Dispose()
        {
            booster.Dispose();
            base.Dispose();
        }
    }
}
