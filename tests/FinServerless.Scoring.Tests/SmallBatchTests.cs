using FinServerless.Contracts;
using FinServerless.Onnx.Sessions;
using FinServerless.Onnx.Writer;

namespace FinServerless.Scoring.Tests;

/// <summary>
/// ScoreBatch's path: <see cref="LoadedModel.Predict"/> on the model's own session runs small batches on bound
/// values; the probabilities are those of the plain ORT Run over the same rows, bit for bit.
/// </summary>
public sealed class SmallBatchTests(ScoringFixture fixture) : IClassFixture<ScoringFixture>
{
    private static LoadedModel? _model;
    private static float[] _x = [];

    private LoadedModel Model()
    {
        if (_model is null)
        {
            var (onnx, _) = fixture.Trees(rounds: 20);
            var manifest = BatchScorerTests.Manifest("small", fixture.Features, XGBoostTreeExport.ProbabilitiesOutput, 1);
            var store = new ModelStore(fixture.Store, FinServerless.Scoring.Trees.ScoreEngine.OnnxRuntime);
            store.RegisterAsync(manifest, onnx).GetAwaiter().GetResult();
            _x = fixture.Table().Features;
            _model = store.LoadAsync(ModelReference.Parse("small@1.0.0")).GetAwaiter().GetResult();
        }

        return _model;
    }

    /// <summary>The plain path, written out here: an OrtValue over the rows, column 1 of ORT's probabilities.</summary>
    private static float[] Plain(LoadedModel model, int start, int rows)
    {
        var f = model.Manifest.Features.Count;
        using var outputs = OnnxSessions.Run(model.Session, model.Manifest.Onnx.Input, _x.AsMemory(start * f, rows * f), rows, f, model.Manifest.Onnx.ProbabilityOutput);
        var p = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        return Enumerable.Range(0, rows).Select(r => p[(r * 2) + 1]).ToArray();
    }

    private static float[] Predict(LoadedModel model, int start, int rows)
    {
        var f = model.Manifest.Features.Count;
        return model.Predict(_x.AsMemory(start * f, rows * f), rows);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(LoadedModel.BoundRows)]
    [InlineData(LoadedModel.BoundRows + 1)] // more than the bound buffers hold: runs over the caller's buffer
    [InlineData(10_000)]
    public void A_batch_scores_exactly_as_the_plain_Run(int rows)
    {
        var model = Model();

        Assert.True(model.SmallBatchesBound);
        Assert.Equal(Plain(model, 11, rows), Predict(model, 11, rows));
    }

    [Fact]
    public void Concurrent_callers_of_changing_sizes_get_their_own_rows_scored()
    {
        var model = Model();
        var calls = Enumerable.Range(0, 300).Select(i => (Start: (i * 97) % 20_000, Rows: 1 + (i * 31 % 1_200))).ToArray();
        var expected = calls.Select(c => Plain(model, c.Start, c.Rows)).ToArray();

        var results = calls.AsParallel().AsOrdered().WithDegreeOfParallelism(8).Select(c => Predict(model, c.Start, c.Rows)).ToArray();

        for (var i = 0; i < calls.Length; i++)
        {
            Assert.Equal(expected[i], results[i]);
        }
    }

    [Fact]
    public void The_bound_path_scores_as_XGBoost_predicts()
    {
        var model = Model();
        var (_, expected) = fixture.Trees(rounds: 20);

        var p = Predict(model, 0, 500);

        Assert.True(p.Select((v, r) => Math.Abs(v - expected[r])).Max() < 1e-5);
    }
}
