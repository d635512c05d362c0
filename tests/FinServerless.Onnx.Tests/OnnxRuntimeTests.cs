using FinServerless.Onnx.Sessions;
using FinServerless.Onnx.Writer;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FinServerless.Onnx.Tests;

/// <summary>Our ONNX writer's models and our session settings, on the official Microsoft.ML.OnnxRuntime.</summary>
public sealed class OnnxRuntimeTests
{
    private static readonly string[] Features = ["limit", "age", "utilization"];

    private static float Probability(InferenceSession session, float[] rows, int count)
    {
        using var outputs = OnnxSessions.Run(session, LinearModel.InputName, rows, count, Features.Length, LinearModel.OutputName);
        return outputs[0].GetTensorDataAsSpan<float>()[0];
    }

    [Fact]
    public void The_runtime_is_the_official_package_1_31_on_the_CPU()
    {
        Assert.StartsWith("1.31", OnnxSessions.Version, StringComparison.Ordinal);
        Assert.Contains("CPUExecutionProvider", OnnxSessions.AvailableProviders);
    }

    [Fact]
    public void A_linear_model_written_by_us_scores_like_its_formula_on_shared_and_single_thread_sessions()
    {
        float[] weights = [-0.00001f, -0.02f, 1.5f];
        const float bias = 0.3f;
        var model = LinearModel.Write(Features, weights, bias);
        float[] rows = [50_000f, 35f, 0.2f, 500_000f, 60f, 0.9f, 10_000f, 22f, 1.1f];
        foreach (var settings in new[] { SessionSettings.Shared, SessionSettings.SingleThread })
        {
            using var session = OnnxSessions.Load(model, settings);
            using var outputs = OnnxSessions.Run(session, LinearModel.InputName, rows, 3, 3, LinearModel.OutputName);

            Assert.Equal([3L, 1L], outputs[0].GetTensorTypeAndShape().Shape);
            var scores = outputs[0].GetTensorDataAsSpan<float>();
            for (var r = 0; r < 3; r++)
            {
                var z = bias + (rows[r * 3] * weights[0]) + (rows[(r * 3) + 1] * weights[1]) + (rows[(r * 3) + 2] * weights[2]);
                Assert.Equal(1 / (1 + Math.Exp(-z)), scores[r], 5);
            }
        }
    }

    [Fact]
    public void The_session_describes_the_inputs_and_outputs_our_writer_declares()
    {
        using var session = OnnxSessions.Load(LinearModel.Write(Features, [1f, 2f, 3f], 0f));

        var (name, input) = Assert.Single(session.InputMetadata);
        Assert.Equal(LinearModel.InputName, name);
        Assert.Equal(TensorElementType.Float, input.ElementDataType);
        Assert.Equal([-1, 3], input.Dimensions);
        Assert.Equal(LinearModel.OutputName, Assert.Single(session.OutputNames));
    }

    [Fact]
    public void A_corrupt_model_fails_with_ORTs_own_message()
    {
        var corrupt = LinearModel.Write(Features, [1f, 2f, 3f], 0f)[..40];

        var error = Assert.Throws<OnnxRuntimeException>(() => OnnxSessions.Load(corrupt));

        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Fact]
    public void A_wrong_input_width_fails_with_ORTs_message_naming_the_input()
    {
        using var session = OnnxSessions.Load(LinearModel.Write(Features, [1f, 2f, 3f], 0f));

        var error = Assert.Throws<OnnxRuntimeException>(() => OnnxSessions.Run(session, LinearModel.InputName, new float[4], 2, 2, LinearModel.OutputName).Dispose());

        Assert.Contains(LinearModel.InputName, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_buffer_shorter_than_its_shape_is_refused_before_ORT_reads_it()
    {
        using var session = OnnxSessions.Load(LinearModel.Write(Features, [1f, 2f, 3f], 0f));

        Assert.Throws<ArgumentOutOfRangeException>(() => OnnxSessions.Run(session, LinearModel.InputName, new float[5], 2, 3, LinearModel.OutputName).Dispose());
    }

    [Fact]
    public void Asking_for_CUDA_on_a_CPU_build_falls_back_to_CPU_and_says_why()
    {
        var log = new List<string>();
        using var session = OnnxSessions.Load(LinearModel.Write(Features, [0.1f, -0.2f, 0.3f], 0.05f), new SessionSettings { PreferCuda = true, Log = log.Add });

        Assert.Equal(1 / (1 + Math.Exp(-(0.05 + 0.3))), Probability(session, [0f, 0f, 1f], 1), 5);
        var reason = Assert.Single(log);
        Assert.Contains("no CUDA execution provider in this build", reason, StringComparison.Ordinal);
        Assert.Contains("providers: CPUExecutionProvider", reason, StringComparison.Ordinal);
        Assert.Contains("scoring on CPU", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Concurrent_runs_on_one_session_give_the_same_answers()
    {
        using var session = OnnxSessions.Load(LinearModel.Write(Features, [0.1f, -0.2f, 0.3f], 0.05f));

        var results = Enumerable.Range(0, 64).AsParallel().WithDegreeOfParallelism(8)
            .Select(i => (i, p: Probability(session, [i, i * 0.5f, 1f], 1))).ToList();

        foreach (var (i, p) in results)
        {
            var z = 0.05 + (0.1 * i) - (0.2 * i * 0.5) + 0.3;
            Assert.Equal(1 / (1 + Math.Exp(-z)), p, 5);
        }
    }
}
