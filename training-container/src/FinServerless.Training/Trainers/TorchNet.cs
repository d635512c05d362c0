namespace FinServerless.Training.Trainers;

/// <summary>
/// A network held by the libtorch shim: an MLP classifier or a dense autoencoder. Owns the native handle; every
/// call goes through <see cref="TorchShim.Call"/>, so libtorch's errors come back as exceptions with its message.
/// </summary>
internal sealed unsafe class TorchNet : IDisposable
{
    private nint _handle;

    private TorchNet(nint handle, int inputs)
    {
        _handle = handle;
        Inputs = inputs;
    }

    /// <summary>Features per row.</summary>
    public int Inputs { get; }

    /// <summary>An MLP: ReLU hidden layers with dropout, one logit out, binary cross-entropy.</summary>
    public static TorchNet Mlp(int inputs, int[] hidden, float dropout, float learningRate, float weightDecay, TrainerSettings settings)
    {
        var layers = hidden.Select(h => (long)h).ToArray();
        nint handle = 0;
        fixed (long* h = layers)
        {
            var hp = h;
            TorchShim.Call("create", (e, c) => TorchShim.fs_mlp_create(inputs, hp, layers.Length, dropout, learningRate, weightDecay, (ulong)settings.Seed, settings.Device == "cuda" ? 1 : 0, settings.Threads, out handle, (byte*)e, c));
        }

        return new TorchNet(handle, inputs);
    }

    /// <summary>An autoencoder: ReLU layers down to the bottleneck and back, a linear layer as wide as the input, mean squared error.</summary>
    public static TorchNet Autoencoder(int inputs, int[] hidden, float learningRate, float weightDecay, TrainerSettings settings)
    {
        var layers = hidden.Select(h => (long)h).ToArray();
        nint handle = 0;
        fixed (long* h = layers)
        {
            var hp = h;
            TorchShim.Call("create", (e, c) => TorchShim.fs_ae_create(inputs, hp, layers.Length, learningRate, weightDecay, (ulong)settings.Seed, settings.Device == "cuda" ? 1 : 0, settings.Threads, out handle, (byte*)e, c));
        }

        return new TorchNet(handle, inputs);
    }

    /// <summary>Copies the training rows (prepared, row-major) and, for a classifier, their labels to the device.</summary>
    public void SetData(float[] x, float[]? y, int rows)
    {
        fixed (float* px = x, py = y)
        {
            var a = px;
            var b = py;
            TorchShim.Call("set_data", (e, c) => TorchShim.fs_mlp_set_data(_handle, a, b, rows, (byte*)e, c));
        }
    }

    /// <summary>One pass over the rows in shuffled batches; returns the mean training loss.</summary>
    public double TrainEpoch(int batch, float positiveWeight = 1)
    {
        double loss = 0;
        TorchShim.Call("train_epoch", (e, c) => TorchShim.fs_mlp_train_epoch(_handle, batch, positiveWeight, out loss, (byte*)e, c));
        return loss;
    }

    /// <summary>Per row: the classifier's probability, or the autoencoder's mean squared reconstruction error.</summary>
    public float[] Predict(float[] prepared, int rows)
    {
        var result = new float[rows];
        fixed (float* px = prepared, pr = result)
        {
            var a = px;
            var b = pr;
            TorchShim.Call("predict", (e, c) => TorchShim.fs_mlp_predict(_handle, a, rows, b, (byte*)e, c));
        }

        return result;
    }

    /// <summary>Every layer's weight [out, in] then bias [out], in order.</summary>
    public float[] GetParameters()
    {
        var buffer = new float[TorchShim.fs_mlp_parameter_count(_handle)];
        fixed (float* p = buffer)
        {
            var a = p;
            TorchShim.Call("get_parameters", (e, c) => TorchShim.fs_mlp_get_parameters(_handle, a, buffer.Length, (byte*)e, c));
        }

        return buffer;
    }

    /// <summary>Restores parameters read by <see cref="GetParameters"/>.</summary>
    public void SetParameters(float[] buffer)
    {
        fixed (float* p = buffer)
        {
            var a = p;
            TorchShim.Call("set_parameters", (e, c) => TorchShim.fs_mlp_set_parameters(_handle, a, buffer.Length, (byte*)e, c));
        }
    }

    /// <summary>The parameters cut into dense layers of the given widths (the input first).</summary>
    public List<FinServerless.Onnx.Writer.MlpExport.Layer> Layers(IEnumerable<int> outputs)
    {
        var weights = GetParameters();
        var layers = new List<FinServerless.Onnx.Writer.MlpExport.Layer>();
        var offset = 0;
        var width = Inputs;
        foreach (var n in outputs)
        {
            var w = weights.AsSpan(offset, n * width).ToArray();
            offset += w.Length;
            var b = weights.AsSpan(offset, n).ToArray();
            offset += n;
            layers.Add(new FinServerless.Onnx.Writer.MlpExport.Layer(w, b));
            width = n;
        }

        return layers;
    }

    public void Dispose()
    {
        if (_handle != 0)
        {
            TorchShim.fs_mlp_free(_handle);
            _handle = 0;
        }
    }
}
