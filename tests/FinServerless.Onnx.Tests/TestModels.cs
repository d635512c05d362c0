using FinServerless.Onnx.Writer;
using FinServerless.XGBoost;

namespace FinServerless.Onnx.Tests;

/// <summary>A real tree model: XGBoost trained through its C API on random rows (10% missing), and its ONNX export.</summary>
internal sealed class TrainedTrees : IDisposable
{
    public TrainedTrees(int rows, int features, int rounds = 40, int seed = 11)
    {
        Rows = rows;
        Features = features;
        var random = new Random(seed);
        Data = new float[rows * features];
        var labels = new float[rows];
        for (var r = 0; r < rows; r++)
        {
            for (var f = 0; f < features; f++)
            {
                Data[(r * features) + f] = random.NextDouble() < 0.1 ? float.NaN : (float)(random.NextDouble() * 100);
            }

            var x0 = float.IsNaN(Data[r * features]) ? 50 : Data[r * features];
            labels[r] = x0 + (random.NextDouble() * 40) > 70 ? 1 : 0;
        }

        using var train = new DMatrix(Data, rows, features, labels);
        Booster = new Booster(train)
            .SetParameter("objective", "binary:logistic").SetParameter("max_depth", 6).SetParameter("eta", 0.3)
            .SetParameter("tree_method", "hist").SetParameter("nthread", 1).SetParameter("base_score", 0.3);
        for (var i = 0; i < rounds; i++)
        {
            Booster.UpdateOneIteration(i, train);
        }

        Names = Enumerable.Range(0, features).Select(i => $"f{i}").ToList();
        Onnx = XGBoostTreeExport.Convert(Booster.SaveJson(), Names);
    }

    public int Rows { get; }

    public int Features { get; }

    /// <summary>The rows, rows × features, NaN where missing.</summary>
    public float[] Data { get; }

    public IReadOnlyList<string> Names { get; }

    public Booster Booster { get; }

    /// <summary>The export: input float[N, features]; outputs label and probabilities float[N, 2].</summary>
    public byte[] Onnx { get; }

    public void Dispose() => Booster.Dispose();
}
