using System.Globalization;
using System.Runtime.Intrinsics.X86;
using FinServerless.Native;
using FinServerless.Onnx.Sessions;
using FinServerless.Onnx.Writer;
using FinServerless.Scoring.Trees;
using FinServerless.Testing;
using FinServerless.XGBoost;
using Microsoft.ML.OnnxRuntime;

namespace FinServerless.Scoring.Tests;

/// <summary>
/// The tree fast path against ONNX Runtime's TreeEnsemble kernel on XGBoost models trained here (real XGBoost, real ORT):
/// every row's probability within 1e-6, on every kernel this CPU has, each one forced.
/// </summary>
public sealed class TreeKernelTests
{
    private const double Tolerance = 1e-6;

    public static TheoryData<string, int, int, bool> SyntheticModels => new()
    {
        { "binary:logistic", 1, 6, true },
        { "binary:logistic", 300, 6, true },
        { "binary:logistic", 1000, 3, true },
        { "binary:logistic", 40, 2, false },
        { "binary:logistic", 60, 8, true },
        { "binary:logistic", 20, 12, true },
        { "reg:squarederror", 200, 6, true },
        { "reg:squarederror", 30, 9, true },
    };

    [Theory]
    [MemberData(nameof(SyntheticModels))]
    public void Synthetic_models_with_missing_values_equal_onnx_runtime_on_every_row(string objective, int trees, int depth, bool withNaN)
    {
        var (x, y) = Synthetic(rows: 12_011, features: 9, seed: trees + depth, withNaN);
        var onnx = Train(objective, x, y, 9, trees, depth);
        AssertParity(onnx, x, 9, expectPadded: depth <= TreeKernel.PaddedDepth);
    }

    [Fact]
    public void Taiwan_300_trees_equal_onnx_runtime_on_every_row()
    {
        var (x, y, width) = ReadCsv(Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "UCI_Credit_Card.csv"), skipFirst: 1, targetLast: true);
        var onnx = Train("binary:logistic", x, y, width, 300, 6);
        AssertParity(onnx, x, width, expectPadded: true);
    }

    [Fact]
    public void Give_Me_Some_Credit_300_trees_equal_onnx_runtime_on_every_row()
    {
        var file = SharedDatasets.GmscTraining(out var reason);
        if (file is null)
        {
            Console.WriteLine($"skipped: {reason}");
            return;
        }

        var (x, y, width) = ReadCsv(file, skipFirst: 1, targetLast: false);
        var onnx = Train("binary:logistic", x, y, width, 300, 6);
        AssertParity(onnx, x, width, expectPadded: true);
    }

    [Fact]
    public void A_model_that_is_not_a_tree_ensemble_or_reads_outside_its_input_is_refused_with_the_reason()
    {
        var linear = LinearModel.Write(["a", "b"], [0.5f, -0.25f], 0.1f);
        Assert.Null(TreeEnsemble.TryRead(linear, out var why));
        Assert.Contains("not one tree-ensemble node", why, StringComparison.Ordinal);

        // A split on feature 7 of a 2-feature input: refused, never read out of bounds.
        var bad = new OnnxModelBuilder("bad")
            .AddInput("features", Onnx.Proto.TensorProto.Types.DataType.Float, "N", 2)
            .AddNode(
                "TreeEnsembleRegressor", ["features"], ["variable"], "ai.onnx.ml",
                OnnxModelBuilder.Ints("nodes_treeids", [0, 0, 0]),
                OnnxModelBuilder.Ints("nodes_nodeids", [0, 1, 2]),
                OnnxModelBuilder.Ints("nodes_featureids", [7, 0, 0]),
                OnnxModelBuilder.Floats("nodes_values", [0.5f, 0, 0]),
                OnnxModelBuilder.Strings("nodes_modes", ["BRANCH_LT", "LEAF", "LEAF"]),
                OnnxModelBuilder.Ints("nodes_truenodeids", [1, 0, 0]),
                OnnxModelBuilder.Ints("nodes_falsenodeids", [2, 0, 0]),
                OnnxModelBuilder.Ints("target_treeids", [0, 0]),
                OnnxModelBuilder.Ints("target_nodeids", [1, 2]),
                OnnxModelBuilder.Ints("target_ids", [0, 0]),
                OnnxModelBuilder.Floats("target_weights", [1, 2]))
            .AddOutput("variable", Onnx.Proto.TensorProto.Types.DataType.Float, "N", 1)
            .ToBytes();
        Assert.Null(TreeEnsemble.TryRead(bad, out why));
        Assert.Contains("feature 7", why, StringComparison.Ordinal);
    }

    [Fact]
    public void A_forced_kernel_the_model_cannot_run_fails_at_load_naming_the_setting_and_auto_falls_back_to_onnx_runtime()
    {
        var (x, y) = Synthetic(rows: 2_000, features: 4, seed: 3, withNaN: true);
        var deep = Train("binary:logistic", x, y, 4, 5, 9);
        var manifest = Manifest(deep, "probabilities", 1, 4);

        var error = Assert.Throws<ModelException>(() => LoadedModel.Load(manifest, deep, "deep.onnx", engine: ScoreEngine.TreeAvx2));
        Assert.Contains(ScoreEngines.Setting + "=tree-avx2", error.Message, StringComparison.Ordinal);
        Assert.Contains("depth", error.Message, StringComparison.Ordinal);

        using (var scalar = LoadedModel.Load(manifest, deep, "deep.onnx"))
        {
            Assert.True(scalar.FastPath);
            Assert.StartsWith("tree fast path (scalar", scalar.Engine, StringComparison.Ordinal);
        }

        using (var ort = LoadedModel.Load(manifest, deep, "deep.onnx", engine: ScoreEngine.OnnxRuntime))
        {
            Assert.False(ort.FastPath);
            Assert.Equal(ScoreEngine.OnnxRuntime, ScoreEngines.Parse(" ONNXRuntime "));
        }

        var linear = LinearModel.Write(["a", "b"], [0.5f, -0.25f], 0.1f);
        using var lin = LoadedModel.Load(Manifest(linear, LinearModel.OutputName, 0, 2), linear, "linear.onnx");
        Assert.False(lin.FastPath);
        Assert.StartsWith("onnxruntime (tree fast path not used:", lin.Engine, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => ScoreEngines.Parse("gpu"));
    }

    [Fact]
    public void Loaded_models_score_through_the_fast_path_with_the_calibration_applied_like_onnx_runtime()
    {
        var (x, y) = Synthetic(rows: 5_003, features: 6, seed: 11, withNaN: true);
        var onnx = Train("binary:logistic", x, y, 6, 50, 6);
        var manifest = Manifest(onnx, "probabilities", 1, 6) with { Calibration = new ProbabilityCalibration { Slope = 0.8, Intercept = -0.3, Rows = 100 } };
        using var fast = LoadedModel.Load(manifest, onnx, "m.onnx");
        using var ort = LoadedModel.Load(manifest, onnx, "m.onnx", engine: ScoreEngine.OnnxRuntime);
        Assert.True(fast.FastPath);
        var a = fast.Predict(x, 5_003);
        var b = ort.Predict(x, 5_003);
        Assert.Equal(5_003, a.Length);
        Assert.True(MaxDifference(a, b) <= Tolerance, $"max difference {MaxDifference(a, b)}");
    }

    private static void AssertParity(byte[] onnx, float[] x, int width, bool expectPadded)
    {
        var rows = x.Length / width;
        var trees = TreeEnsemble.TryRead(onnx, out var reason) ?? throw new InvalidOperationException(reason);
        var expected = OrtColumn(onnx, x, rows, width, trees.OutputName, trees.OutputColumn);
        var kinds = new List<TreeKernelKind> { TreeKernelKind.Scalar };
        if (expectPadded)
        {
            Assert.True(Avx2.IsSupported, "CI's CPUs have AVX2; the AVX2 kernel must be tested");
            kinds.Add(TreeKernelKind.Avx2);
            if (Avx512F.IsSupported)
            {
                kinds.Add(TreeKernelKind.Avx512);
            }
            else
            {
                Console.WriteLine("this CPU has no AVX-512: the AVX-512 kernel was not run");
            }
        }

        foreach (var kind in kinds)
        {
            var kernel = TreeKernel.TryCreate(trees, kind, out reason) ?? throw new InvalidOperationException(reason);
            Assert.Equal(expectPadded, kernel.Padded);
            var actual = new float[rows];
            kernel.Predict(x, rows, actual);
            var worst = MaxDifference(actual, expected);
            Assert.True(worst <= Tolerance, $"{kind}: max |fast path - ORT| = {worst:E2} over {rows} rows");
        }

        // The rows are not all alike: the comparison means something.
        Assert.True(expected.Distinct().Count() > Math.Min(rows, trees.Roots.Count) / 2 || trees.Roots.Count == 1);
    }

    private static double MaxDifference(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        var worst = 0.0;
        for (var i = 0; i < a.Length; i++)
        {
            Assert.False(float.IsNaN(a[i]), $"row {i} is NaN");
            worst = Math.Max(worst, Math.Abs(a[i] - (double)b[i]));
        }

        return worst;
    }

    private static float[] OrtColumn(byte[] onnx, float[] x, int rows, int width, string output, int column)
    {
        using var session = OnnxSessions.Load(onnx, SessionSettings.SingleThread);
        using var values = OnnxSessions.Run(session, XGBoostTreeExport.InputName, x, rows, width, output);
        var data = values[0].GetTensorDataAsSpan<float>();
        var columns = data.Length / rows;
        var result = new float[rows];
        for (var r = 0; r < rows; r++)
        {
            result[r] = data[(r * columns) + column];
        }

        return result;
    }

    internal static byte[] Train(string objective, float[] x, float[] y, int width, int trees, int depth)
    {
        var rows = x.Length / width;
        using var train = new DMatrix(x, rows, width, y);
        using var booster = new Booster(train)
            .SetParameter("objective", objective)
            .SetParameter("max_depth", depth)
            .SetParameter("eta", 0.1)
            .SetParameter("tree_method", "hist")
            .SetParameter("nthread", 2)
            .SetParameter("seed", 1);
        for (var round = 0; round < trees; round++)
        {
            booster.UpdateOneIteration(round, train);
        }

        return XGBoostTreeExport.Convert(booster.SaveJson(), Enumerable.Range(0, width).Select(i => $"f{i}").ToList());
    }

    internal static (float[] X, float[] Y) Synthetic(int rows, int features, int seed, bool withNaN)
    {
        var random = new Random(seed);
        var x = new float[rows * features];
        var y = new float[rows];
        for (var r = 0; r < rows; r++)
        {
            double z = 0;
            for (var f = 0; f < features; f++)
            {
                var v = (float)((random.NextDouble() * 4) - 2);
                if (f % 3 == 1)
                {
                    v = MathF.Round(v * 3); // few distinct values: ties at thresholds
                }

                z += (f % 2 == 0 ? 1 : -0.5) * v * (f + 1) / features;
                x[(r * features) + f] = withNaN && random.NextDouble() < 0.15 ? float.NaN : v;
            }

            y[r] = random.NextDouble() < 1 / (1 + Math.Exp(-z)) ? 1 : 0;
        }

        return (x, y);
    }

    /// <summary>A numeric CSV: skips the first <paramref name="skipFirst"/> columns; the target is the last column or the next one; NA / blank is NaN.</summary>
    private static (float[] X, float[] Y, int Width) ReadCsv(string path, int skipFirst, bool targetLast)
    {
        var lines = File.ReadAllLines(path);
        var columns = lines[0].Split(',').Length;
        var width = columns - skipFirst - 1;
        var x = new float[(lines.Length - 1) * width];
        var y = new float[lines.Length - 1];
        for (var i = 1; i < lines.Length; i++)
        {
            var cells = lines[i].Split(',');
            var target = targetLast ? columns - 1 : skipFirst;
            y[i - 1] = float.Parse(cells[target], CultureInfo.InvariantCulture);
            var k = 0;
            for (var c = skipFirst; c < columns; c++)
            {
                if (c == target)
                {
                    continue;
                }

                x[((i - 1) * width) + k++] = float.TryParse(cells[c], NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : float.NaN;
            }
        }

        return (x, y, width);
    }

    private static ModelManifest Manifest(byte[] onnx, string output, int column, int features) => new()
    {
        Name = "fast",
        Version = "1.0.0",
        Trainer = "xgboost",
        Features = [.. Enumerable.Range(0, features).Select(i => new FeatureSpec($"f{i}"))],
        Onnx = new OnnxArtifact { Sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(onnx)), ProbabilityOutput = output, ProbabilityColumn = column },
    };
}
