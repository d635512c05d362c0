using FinServerless.Onnx.Proto;
using Google.Protobuf;

namespace FinServerless.Onnx.Writer;

/// <summary>
/// Builds an ONNX model graph by graph: inputs, initializers, nodes, outputs, metadata. Symbolic dimensions
/// are written as names (for example "N" for the batch).
/// </summary>
public sealed class OnnxModelBuilder
{
    /// <summary>ONNX IR version written (8: supported by every ONNX Runtime since 1.10).</summary>
    public const long IrVersion = 8;

    private readonly GraphProto _graph;
    private readonly ModelProto _model;

    /// <summary>Starts a model; <paramref name="opset"/> is the default-domain opset, <paramref name="mlOpset"/> the ai.onnx.ml one.</summary>
    public OnnxModelBuilder(string graphName, long opset = 17, long mlOpset = 3)
    {
        _graph = new GraphProto { Name = graphName };
        _model = new ModelProto
        {
            IrVersion = IrVersion,
            ProducerName = "FinServerless",
            ProducerVersion = typeof(OnnxModelBuilder).Assembly.GetName().Version?.ToString() ?? "0",
            Graph = _graph,
        };
        _model.OpsetImport.Add(new OperatorSetIdProto { Domain = string.Empty, Version = opset });
        _model.OpsetImport.Add(new OperatorSetIdProto { Domain = "ai.onnx.ml", Version = mlOpset });
    }

    /// <summary>Adds a graph input; a dimension is a number or a symbolic name.</summary>
    public OnnxModelBuilder AddInput(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        _graph.Input.Add(ValueInfo(name, type, dims));
        return this;
    }

    /// <summary>Adds a graph output.</summary>
    public OnnxModelBuilder AddOutput(string name, TensorProto.Types.DataType type, params object[] dims)
    {
        _graph.Output.Add(ValueInfo(name, type, dims));
        return this;
    }

    /// <summary>Adds a float constant.</summary>
    public OnnxModelBuilder AddInitializer(string name, ReadOnlySpan<float> values, params long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        tensor.Dims.AddRange(dims);
        tensor.FloatData.AddRange(values.ToArray());
        _graph.Initializer.Add(tensor);
        return this;
    }

    /// <summary>Adds an int64 constant.</summary>
    public OnnxModelBuilder AddInitializer(string name, ReadOnlySpan<long> values, params long[] dims)
    {
        var tensor = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        tensor.Dims.AddRange(dims);
        tensor.Int64Data.AddRange(values.ToArray());
        _graph.Initializer.Add(tensor);
        return this;
    }

    /// <summary>Adds an operator node.</summary>
    public OnnxModelBuilder AddNode(string opType, string[] inputs, string[] outputs, string? domain = null, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = opType, Name = $"{opType}_{_graph.Node.Count}", Domain = domain ?? string.Empty };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return this;
    }

    /// <summary>Adds a key/value to the model's metadata_props.</summary>
    public OnnxModelBuilder AddMetadata(string key, string value)
    {
        _model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        return this;
    }

    /// <summary>The model as a protobuf message.</summary>
    public ModelProto Build() => _model.Clone();

    /// <summary>The serialized model.</summary>
    public byte[] ToBytes() => _model.ToByteArray();

    /// <summary>An int attribute.</summary>
    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>A float attribute.</summary>
    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    /// <summary>A string attribute.</summary>
    public static AttributeProto String(string name, string value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    /// <summary>A list-of-ints attribute.</summary>
    public static AttributeProto Ints(string name, IEnumerable<long> values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    /// <summary>A list-of-floats attribute.</summary>
    public static AttributeProto Floats(string name, IEnumerable<float> values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Floats };
        a.Floats.AddRange(values);
        return a;
    }

    /// <summary>A list-of-strings attribute.</summary>
    public static AttributeProto Strings(string name, IEnumerable<string> values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Strings };
        a.Strings.AddRange(values.Select(ByteString.CopyFromUtf8));
        return a;
    }

    private static ValueInfoProto ValueInfo(string name, TensorProto.Types.DataType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
        {
            shape.Dim.Add(d switch
            {
                string symbol => new TensorShapeProto.Types.Dimension { DimParam = symbol },
                int i => new TensorShapeProto.Types.Dimension { DimValue = i },
                long l => new TensorShapeProto.Types.Dimension { DimValue = l },
                _ => throw new ArgumentException($"Dimension '{d}' of '{name}' must be a number or a symbolic name.", nameof(dims)),
            });
        }

        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } },
        };
    }
}
