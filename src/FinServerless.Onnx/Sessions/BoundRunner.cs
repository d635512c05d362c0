using System.Collections.Concurrent;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace FinServerless.Onnx.Sessions;

/// <summary>
/// Small batches on bound values: each caller rents a binding from a pool (one per concurrent caller, kept for
/// reuse), whose input and output are ORT values over fixed buffers of <see cref="MaxRows"/> rows, bound once to
/// an <see cref="OrtIoBinding"/> and rebound only when the row count changes. A call copies its rows into the
/// bound input, runs the binding and copies the bound output out, so no tensor, run options or output is
/// created per call. A batch of more than <see cref="MaxRows"/> rows runs through <see cref="OnnxSessions.Run"/>
/// over the caller's buffer instead (the per-call overhead does not matter at that size). ORT's own exceptions
/// (<see cref="OnnxRuntimeException"/>, carrying ORT's message) pass through unchanged.
/// </summary>
public sealed class BoundRunner : IDisposable
{
    private readonly InferenceSession _session;
    private readonly string _input;
    private readonly string _output;
    private readonly ConcurrentBag<Binding> _idle = [];
    private readonly int _outputRank;
    private readonly int _maxIdle;
    private volatile bool _disposed;

    /// <summary>
    /// A runner for <paramref name="session"/>'s float input <paramref name="input"/> of
    /// <paramref name="columns"/> values per row and its float output <paramref name="output"/>, whose shape
    /// must be [N] or [N, k] with k fixed by the model.
    /// </summary>
    /// <exception cref="ArgumentException">The session has no such input or output, or the output's width is not fixed.</exception>
    public BoundRunner(InferenceSession session, string input, int columns, string output, int maxRows, int maxIdle = 0)
    {
        ArgumentNullException.ThrowIfNull(session);
        ArgumentOutOfRangeException.ThrowIfLessThan(columns, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        if (!session.InputMetadata.ContainsKey(input))
        {
            throw new ArgumentException($"The model has no input '{input}'; its inputs are {string.Join(", ", session.InputNames)}.", nameof(input));
        }

        OutputWidth = FixedWidth(session, output)
            ?? throw new ArgumentException($"The model's output '{output}' is not a float tensor of shape [N] or [N, k] with k fixed, so it cannot be bound ahead of a run.", nameof(output));
        _session = session;
        _input = input;
        _output = output;
        _outputRank = session.OutputMetadata[output].Dimensions.Length;
        Columns = columns;
        MaxRows = maxRows;
        _maxIdle = maxIdle > 0 ? maxIdle : Environment.ProcessorCount * 2;
    }

    /// <summary>Values per input row.</summary>
    public int Columns { get; }

    /// <summary>Output values per row (1 for an output of shape [N]).</summary>
    public int OutputWidth { get; }

    /// <summary>The most rows a bound run takes; larger batches run through <see cref="OnnxSessions.Run"/>.</summary>
    public int MaxRows { get; }

    /// <summary>Bindings made so far and not disposed (at most one per concurrent caller, kept for reuse up to a limit).</summary>
    public int Bindings => Volatile.Read(ref _bindings);

    private int _bindings;

    /// <summary>The output width when <paramref name="output"/> is a float tensor [N] or [N, k] with k fixed; else null.</summary>
    public static int? FixedWidth(InferenceSession session, string output)
    {
        ArgumentNullException.ThrowIfNull(session);
        if (!session.OutputMetadata.TryGetValue(output, out var meta) || !meta.IsTensor || meta.ElementDataType != TensorElementType.Float)
        {
            return null;
        }

        return meta.Dimensions switch
        {
            [_] => 1,
            [_, > 0 and var k] => k,
            _ => null,
        };
    }

    /// <summary>
    /// Runs <paramref name="rows"/> rows of <see cref="Columns"/> values from <paramref name="features"/> and
    /// writes rows × <see cref="OutputWidth"/> output values to <paramref name="outputs"/>.
    /// </summary>
    /// <exception cref="OnnxRuntimeException">ORT refused the run; the message is ORT's.</exception>
    public void Run(Memory<float> features, int rows, Span<float> outputs)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfLessThan(features.Length, rows * Columns, nameof(features));
        ArgumentOutOfRangeException.ThrowIfLessThan(outputs.Length, rows * OutputWidth, nameof(outputs));
        if (rows == 0)
        {
            return;
        }

        if (rows > MaxRows)
        {
            using var results = OnnxSessions.Run(_session, _input, features, rows, Columns, _output);
            results[0].GetTensorDataAsSpan<float>()[..(rows * OutputWidth)].CopyTo(outputs);
            return;
        }

        var binding = Rent();
        try
        {
            binding.Run(features.Span[..(rows * Columns)], rows, outputs);
        }
        catch
        {
            // A binding whose run failed is not reused.
            Release(binding);
            throw;
        }

        Return(binding);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _disposed = true;
        while (_idle.TryTake(out var binding))
        {
            Release(binding);
        }
    }

    private Binding Rent()
    {
        if (_idle.TryTake(out var binding))
        {
            return binding;
        }

        Interlocked.Increment(ref _bindings);
        try
        {
            return new Binding(this);
        }
        catch
        {
            Interlocked.Decrement(ref _bindings);
            throw;
        }
    }

    private void Return(Binding binding)
    {
        if (_disposed || _idle.Count >= _maxIdle)
        {
            Release(binding);
            return;
        }

        _idle.Add(binding);
        if (_disposed && _idle.TryTake(out var late))
        {
            Release(late); // disposed meanwhile: do not keep it
        }
    }

    private void Release(Binding binding)
    {
        binding.Dispose();
        Interlocked.Decrement(ref _bindings);
    }

    /// <summary>One caller's binding: pinned buffers of the runner's size, their ORT values, the IOBinding and run options.</summary>
    private sealed class Binding : IDisposable
    {
        private readonly BoundRunner _owner;
        private readonly float[] _in;
        private readonly float[] _out;
        private readonly OrtIoBinding _binding;
        private readonly RunOptions _runOptions = new();
        private OrtValue? _inValue;
        private OrtValue? _outValue;
        private int _rows;

        public Binding(BoundRunner owner)
        {
            _owner = owner;
            _in = GC.AllocateUninitializedArray<float>(owner.MaxRows * owner.Columns, pinned: true);
            _out = GC.AllocateUninitializedArray<float>(owner.MaxRows * owner.OutputWidth, pinned: true);
            _binding = owner._session.CreateIoBinding();
        }

        public void Run(ReadOnlySpan<float> features, int rows, Span<float> outputs)
        {
            if (rows != _rows)
            {
                Bind(rows);
            }

            features.CopyTo(_in);
            _owner._session.RunWithBinding(_runOptions, _binding);
            _out.AsSpan(0, rows * _owner.OutputWidth).CopyTo(outputs);
        }

        public void Dispose()
        {
            _binding.Dispose();
            _inValue?.Dispose();
            _outValue?.Dispose();
            _runOptions.Dispose();
        }

        /// <summary>Binds values of <paramref name="rows"/> rows over the same buffers, replacing the previous ones.</summary>
        private void Bind(int rows)
        {
            var owner = _owner;
            var inValue = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _in.AsMemory(0, rows * owner.Columns), [rows, owner.Columns]);
            var outValue = owner._outputRank == 1
                ? OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _out.AsMemory(0, rows), [rows])
                : OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, _out.AsMemory(0, rows * owner.OutputWidth), [rows, owner.OutputWidth]);
            try
            {
                _binding.BindInput(owner._input, inValue);
                _binding.BindOutput(owner._output, outValue);
            }
            catch
            {
                inValue.Dispose();
                outValue.Dispose();
                _rows = 0;
                throw;
            }

            _inValue?.Dispose();
            _outValue?.Dispose();
            (_inValue, _outValue, _rows) = (inValue, outValue, rows);
        }
    }
}
