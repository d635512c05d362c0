using FinServerless.Onnx.Runtime;
using FinServerless.Onnx.Writer;

namespace FinServerless.Onnx.Tests;

public sealed class OnnxRuntimeTests
{
    private static readonly string[] Features = ["limit", "age", "utilization"];

    [Fact]
    public void The_loaded_library_is_ONNX_Runtime_1_30_through_the_C_API()
    {
        var version = OrtEnvironment.Instance.Version;

        Assert.StartsWith("1.30", version);
        Assert.Contains("ORT Build Info", OrtEnvironment.BuildInfo);
    }

    [Fact]
    public void A_linear_model_written_by_us_scores_like_its_formula()
    {
        float[] weights = [-0.00001f, -0.02f, 1.5f];
        const float bias = 0.3f;
        using var session = InferenceSession.Load(LinearModel.Write(Features, weights, bias));
        float[] rows = [50_000f, 35f, 0.2f, 500_000f, 60f, 0.9f, 10_000f, 22f, 1.1f];

        using var input = OrtValue.CreateTensor<float>(rows, [3, 3]);
        var outputs = session.Run([input]);
        using var probability = outputs[0];

        Assert.Equal([3L, 1L], probability.Shape);
        var scores = probability.GetTensorData<float>();
        for (var r = 0; r < 3; r++)
        {
            var z = bias + (rows[r * 3] * weights[0]) + (rows[(r * 3) + 1] * weights[1]) + (rows[(r * 3) + 2] * weights[2]);
            Assert.Equal(1 / (1 + Math.Exp(-z)), scores[r], 5);
        }
    }

    [Fact]
    public void The_session_describes_its_inputs_and_outputs()
    {
        using var session = InferenceSession.Load(LinearModel.Write(Features, [1f, 2f, 3f], 0f));

        var input = Assert.Single(session.Inputs);
        Assert.Equal(LinearModel.InputName, input.Name);
        Assert.Equal(TensorElementType.Float, input.ElementType);
        Assert.Equal([-1L, 3L], input.Shape);
        Assert.Equal(LinearModel.OutputName, Assert.Single(session.Outputs).Name);
        Assert.Equal("CPU", session.ExecutionProvider);
    }

    [Fact]
    public void A_corrupt_model_fails_with_ORTs_own_message()
    {
        var corrupt = LinearModel.Write(Features, [1f, 2f, 3f], 0f)[..40];

        var error = Assert.Throws<OnnxRuntimeException>(() => InferenceSession.Load(corrupt));

        Assert.Equal("CreateSessionFromArray", error.Operation);
        Assert.False(string.IsNullOrWhiteSpace(error.OrtMessage));
    }

    [Fact]
    public void A_wrong_input_shape_fails_with_a_message_naming_the_dimension()
    {
        using var session = InferenceSession.Load(LinearModel.Write(Features, [1f, 2f, 3f], 0f));
        using var input = OrtValue.CreateTensor<float>(new float[4], [2, 2]);

        var error = Assert.Throws<OnnxRuntimeException>(() => session.Run([input]));

        Assert.Equal(OrtErrorCode.InvalidArgument, error.ErrorCode);
        Assert.Contains("features", error.Message);
    }

    [Fact]
    public void A_buffer_that_does_not_match_its_shape_is_refused_before_ORT_sees_it()
    {
        var error = Assert.Throws<ArgumentException>(() => OrtValue.CreateTensor<float>(new float[5], [2, 3]));

        Assert.Contains("needs 6 elements", error.Message);
    }

    [Fact]
    public void Concurrent_runs_on_one_session_give_the_same_answers()
    {
        using var session = InferenceSession.Load(LinearModel.Write(Features, [0.1f, -0.2f, 0.3f], 0.05f));

        var results = Enumerable.Range(0, 64).AsParallel().WithDegreeOfParallelism(8).Select(i =>
        {
            float[] row = [i, i * 0.5f, 1f];
            using var input = OrtValue.CreateTensor<float>(row, [1, 3]);
            var outputs = session.Run([input]);
            using var output = outputs[0];
            return (i, p: output.GetTensorData<float>()[0]);
        }).ToList();

        foreach (var (i, p) in results)
        {
            var z = 0.05 + (0.1 * i) - (0.2 * i * 0.5) + 0.3;
            Assert.Equal(1 / (1 + Math.Exp(-z)), p, 5);
        }
    }
}
