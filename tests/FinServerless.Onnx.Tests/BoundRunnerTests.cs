using FinServerless.Onnx.Proto;
using FinServerless.Onnx.Sessions;
using FinServerless.Onnx.Writer;
using Microsoft.ML.OnnxRuntime;

namespace FinServerless.Onnx.Tests;

/// <summary>Small batches on bound values give exactly what the plain Run gives, on a real XGBoost export.</summary>
public sealed class BoundRunnerTests : IDisposable
{
    private const int Features = 6;
    private const int MaxRows = 128;
    private readonly TrainedTrees _trees = new(2_000, Features);
    private readonly InferenceSession _session;

    public BoundRunnerTests() => _session = OnnxSessions.Load(_trees.Onnx, SessionSettings.SingleThread);

    public void Dispose()
    {
        _session.Dispose();
        _trees.Dispose();
    }

    private BoundRunner Runner(int maxRows = MaxRows) => new(_session, _session.InputNames[0], Features, XGBoostTreeExport.ProbabilitiesOutput, maxRows);

    /// <summary>The plain path: an OrtValue over the rows, ORT's output copied out.</summary>
    private float[] Plain(int start, int rows)
    {
        using var outputs = OnnxSessions.Run(_session, _session.InputNames[0], _trees.Data.AsMemory(start * Features, rows * Features), rows, Features, XGBoostTreeExport.ProbabilitiesOutput);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static float[] Bound(BoundRunner runner, float[] data, int start, int rows)
    {
        var outputs = new float[rows * runner.OutputWidth];
        runner.Run(data.AsMemory(start * Features, rows * Features), rows, outputs);
        return outputs;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(MaxRows)]
    [InlineData(MaxRows + 1)] // larger than the bound buffers: runs over the caller's buffer
    [InlineData(1_500)]
    public void A_batch_gives_the_probabilities_of_the_plain_Run_bit_for_bit(int rows)
    {
        using var runner = Runner();

        var bound = Bound(runner, _trees.Data, 7, rows);

        Assert.Equal(2, runner.OutputWidth);
        Assert.Equal(Plain(7, rows), bound);
        Assert.Equal(rows <= MaxRows ? 1 : 0, runner.Bindings);
    }

    [Fact]
    public void One_binding_serves_calls_of_changing_sizes_and_contents()
    {
        using var runner = Runner();

        foreach (var (start, rows) in new[] { (0, 100), (100, 100), (5, 1), (300, MaxRows), (9, 37), (1_000, 100) })
        {
            Assert.Equal(Plain(start, rows), Bound(runner, _trees.Data, start, rows));
        }

        Assert.Equal(1, runner.Bindings);
    }

    [Fact]
    public void Concurrent_callers_each_get_their_own_rows_scored()
    {
        using var runner = Runner();
        var calls = Enumerable.Range(0, 400).Select(i => (Start: (i * 37) % 1_800, Rows: 1 + (i * 13 % 150))).ToArray();
        var expected = calls.Select(c => Plain(c.Start, c.Rows)).ToArray();

        var results = calls.AsParallel().AsOrdered().WithDegreeOfParallelism(8).Select(c => Bound(runner, _trees.Data, c.Start, c.Rows)).ToArray();

        for (var i = 0; i < calls.Length; i++)
        {
            Assert.Equal(expected[i], results[i]);
        }

        Assert.InRange(runner.Bindings, 1, 8);
    }

    [Fact]
    public void A_width_one_output_of_a_linear_model_is_bound_too()
    {
        string[] names = ["a", "b", "c"];
        using var session = OnnxSessions.Load(LinearModel.Write(names, [0.1f, -0.2f, 0.3f], 0.05f));
        using var runner = new BoundRunner(session, LinearModel.InputName, 3, LinearModel.OutputName, 16);
        float[] rows = [1f, 2f, 3f, 0f, 0f, 1f];
        using var plain = OnnxSessions.Run(session, LinearModel.InputName, rows, 2, 3, LinearModel.OutputName);

        var bound = new float[2];
        runner.Run(rows, 2, bound);

        Assert.Equal(1, runner.OutputWidth);
        Assert.Equal(plain[0].GetTensorDataAsSpan<float>().ToArray(), bound);
    }

    [Fact]
    public void A_run_ORT_refuses_fails_with_ORTs_message_and_its_binding_is_not_kept()
    {
        // The runner is told 2 values per row; the model takes 6: ORT refuses the bound input.
        using var runner = new BoundRunner(_session, _session.InputNames[0], 2, XGBoostTreeExport.ProbabilitiesOutput, MaxRows);

        var error = Assert.Throws<OnnxRuntimeException>(() => runner.Run(new float[20], 10, new float[20]));

        Assert.Contains(_session.InputNames[0], error.Message, StringComparison.Ordinal);
        Assert.Equal(0, runner.Bindings);
    }

    [Fact]
    public void Buffers_shorter_than_the_rows_are_refused_before_ORT_reads_them()
    {
        using var runner = Runner();

        Assert.Throws<ArgumentOutOfRangeException>(() => runner.Run(new float[(10 * Features) - 1], 10, new float[20]));
        Assert.Throws<ArgumentOutOfRangeException>(() => runner.Run(new float[10 * Features], 10, new float[19]));
    }

    [Fact]
    public void An_output_whose_width_is_not_fixed_or_an_unknown_name_cannot_be_bound()
    {
        var open = new OnnxModelBuilder("identity")
            .AddInput("x", TensorProto.Types.DataType.Float, "N", "K")
            .AddNode("Identity", ["x"], ["y"])
            .AddOutput("y", TensorProto.Types.DataType.Float, "N", "K")
            .ToBytes();
        using var session = OnnxSessions.Load(open);

        Assert.Null(BoundRunner.FixedWidth(session, "y"));
        Assert.Contains("'y'", Assert.Throws<ArgumentException>(() => new BoundRunner(session, "x", 3, "y", 8)).Message, StringComparison.Ordinal);
        Assert.Contains("'nope'", Assert.Throws<ArgumentException>(() => new BoundRunner(_session, "nope", Features, XGBoostTreeExport.ProbabilitiesOutput, 8)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_disposed_runner_refuses_calls()
    {
        var runner = Runner();
        Bound(runner, _trees.Data, 0, 10);

        runner.Dispose();

        Assert.Equal(0, runner.Bindings);
        Assert.Throws<ObjectDisposedException>(() => Bound(runner, _trees.Data, 0, 10));
    }
}
