using FinServerless.Onnx.Proto;

namespace FinServerless.Scoring.Trees;

/// <summary>What a tree ensemble's output is.</summary>
public enum TreeOutput
{
    /// <summary>A binary TreeEnsembleClassifier: the second probability column is logistic(margin).</summary>
    BinaryClassifier,

    /// <summary>A single-target TreeEnsembleRegressor (sum of leaves, plus base, then the post-transform).</summary>
    Regressor,
}

/// <summary>
/// An <c>ai.onnx.ml</c> TreeEnsembleClassifier or TreeEnsembleRegressor read from the ONNX model, flattened: all trees'
/// nodes in one set of arrays, children as indices into them, every index checked. Only the shapes the fast path
/// evaluates exactly as ONNX Runtime does are accepted (<see cref="TryRead"/> says why otherwise): one output score
/// (a binary classifier or a single-target regressor), SUM aggregation, post-transform NONE or LOGISTIC, one base value
/// at most, numeric splits.
/// </summary>
public sealed class TreeEnsemble
{
    /// <summary>Deepest tree the reader accepts (deeper ones, or cycles, are refused).</summary>
    public const int MaxDepth = 64;

    private TreeEnsemble(TreeOutput output, string outputName, int features, bool logistic, float baseValue, int[] roots, TreeNode[] nodes, int depth)
    {
        Output = output;
        OutputName = outputName;
        FeatureCount = features;
        Logistic = logistic;
        BaseValue = baseValue;
        Roots = roots;
        Nodes = nodes;
        Depth = depth;
    }

    /// <summary>Classifier or regressor.</summary>
    public TreeOutput Output { get; }

    /// <summary>The graph output the fast path computes: the classifier's probabilities (its second output), the regressor's only one.</summary>
    public string OutputName { get; }

    /// <summary>The column of <see cref="OutputName"/> the fast path computes (1, the positive class, for the classifier; 0 for the regressor).</summary>
    public int OutputColumn => Output == TreeOutput.BinaryClassifier ? 1 : 0;

    /// <summary>Width of the model's input.</summary>
    public int FeatureCount { get; }

    /// <summary>Whether the post-transform is LOGISTIC (otherwise NONE).</summary>
    public bool Logistic { get; }

    /// <summary>Added to the sum of leaves before the post-transform.</summary>
    public float BaseValue { get; }

    /// <summary>Each tree's root, in tree order (an index into <see cref="Nodes"/>).</summary>
    public IReadOnlyList<int> Roots { get; }

    /// <summary>All nodes of all trees.</summary>
    public IReadOnlyList<TreeNode> Nodes { get; }

    /// <summary>Levels of the deepest tree (a single leaf is depth 0).</summary>
    public int Depth { get; }

    /// <summary>Whether every split is BRANCH_LT (the SIMD layout's only comparison).</summary>
    public bool AllLessThan => Nodes.All(n => n.IsLeaf || n.Mode == SplitMode.Lt);

    /// <summary>
    /// Reads the model's only tree-ensemble node; returns null with the reason when the graph is anything else or
    /// uses something this reader does not evaluate exactly as ONNX Runtime does.
    /// </summary>
    public static TreeEnsemble? TryRead(ReadOnlySpan<byte> onnx, out string reason)
    {
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(onnx);
        }
        catch (Google.Protobuf.InvalidProtocolBufferException)
        {
            reason = "the model file is not a readable ONNX protobuf";
            return null;
        }

        var graph = model.Graph;
        if (graph is null || graph.Node.Count != 1)
        {
            reason = $"the graph has {graph?.Node.Count ?? 0} nodes, not one tree-ensemble node";
            return null;
        }

        var node = graph.Node[0];
        if (node.Domain != "ai.onnx.ml" || (node.OpType != "TreeEnsembleClassifier" && node.OpType != "TreeEnsembleRegressor"))
        {
            reason = $"its node is {node.Domain}.{node.OpType}, not an ai.onnx.ml tree ensemble";
            return null;
        }

        if (graph.Input.Count != 1 || graph.Input[0].Type?.TensorType?.Shape?.Dim is not { Count: 2 } dims || dims[1].DimValue <= 0)
        {
            reason = "its input is not float[N, F] with a fixed F";
            return null;
        }

        try
        {
            return Read(node, checked((int)dims[1].DimValue), out reason);
        }
        catch (Exception ex) when (ex is OverflowException or InvalidDataException)
        {
            reason = ex.Message;
            return null;
        }
    }

    private static TreeEnsemble? Read(NodeProto node, int features, out string reason)
    {
        var a = node.Attribute.ToDictionary(x => x.Name, StringComparer.Ordinal);
        var classifier = node.OpType == "TreeEnsembleClassifier";
        foreach (var name in a.Keys)
        {
            if (name.EndsWith("_as_tensor", StringComparison.Ordinal))
            {
                reason = $"attribute {name} (double thresholds or weights) is not supported";
                return null;
            }
        }

        string Text(string name, string fallback) => a.TryGetValue(name, out var v) ? v.S.ToStringUtf8() : fallback;
        long[] Ints(string name) => a.TryGetValue(name, out var v) ? [.. v.Ints] : [];
        float[] Floats(string name) => a.TryGetValue(name, out var v) ? [.. v.Floats] : [];

        var post = Text("post_transform", "NONE");
        if (post is not ("NONE" or "LOGISTIC"))
        {
            reason = $"post_transform {post} is not supported";
            return null;
        }

        var prefix = classifier ? "class_" : "target_";
        var leafTree = Ints(prefix + "treeids");
        var leafNode = Ints(prefix + "nodeids");
        var leafClass = Ints(prefix + "ids");
        var leafWeight = Floats(prefix + "weights");
        if (classifier)
        {
            var labels = Ints("classlabels_int64s");
            if (labels.Length != 2 || a.ContainsKey("classlabels_strings") || post != "LOGISTIC" || leafClass.Any(c => c != 0))
            {
                reason = "only a binary classifier (two int64 labels, weights on class 0, LOGISTIC) is supported";
                return null;
            }
        }
        else
        {
            if (a.TryGetValue("n_targets", out var targets) && targets.I != 1)
            {
                reason = $"n_targets is {targets.I}; only a single target is supported";
                return null;
            }

            var aggregate = Text("aggregate_function", "SUM");
            if (aggregate != "SUM" || leafClass.Any(c => c != 0))
            {
                reason = $"aggregate_function {aggregate} (or several targets) is not supported";
                return null;
            }
        }

        var baseValues = Floats("base_values");
        if (baseValues.Length > 1)
        {
            reason = $"{baseValues.Length} base values; one at most is supported";
            return null;
        }

        var treeIds = Ints("nodes_treeids");
        var nodeIds = Ints("nodes_nodeids");
        var featureIds = Ints("nodes_featureids");
        var values = Floats("nodes_values");
        var modes = a.TryGetValue("nodes_modes", out var m) ? m.Strings.Select(s => s.ToStringUtf8()).ToArray() : [];
        var trueIds = Ints("nodes_truenodeids");
        var falseIds = Ints("nodes_falsenodeids");
        var missing = Ints("nodes_missing_value_tracks_true");
        var hitRates = Floats("nodes_hitrates");
        var n = treeIds.Length;
        if (n == 0 || nodeIds.Length != n || featureIds.Length != n || values.Length != n || modes.Length != n || trueIds.Length != n || falseIds.Length != n
            || (missing.Length != 0 && missing.Length != n) || (hitRates.Length != 0 && hitRates.Length != n)
            || leafNode.Length != leafTree.Length || leafClass.Length != leafTree.Length || leafWeight.Length != leafTree.Length)
        {
            reason = "the node or leaf attribute lists differ in length";
            return null;
        }

        // Trees in order of first appearance; ONNX Runtime takes each tree's first listed node as its root.
        var index = new Dictionary<(long Tree, long Node), int>(n);
        var roots = new List<int>();
        var seenTrees = new HashSet<long>();
        for (var i = 0; i < n; i++)
        {
            if (!index.TryAdd((treeIds[i], nodeIds[i]), i))
            {
                reason = $"tree {treeIds[i]} lists node {nodeIds[i]} twice";
                return null;
            }

            if (seenTrees.Add(treeIds[i]))
            {
                roots.Add(i);
            }
        }

        var nodes = new TreeNode[n];
        for (var i = 0; i < n; i++)
        {
            var mode = modes[i] switch
            {
                "LEAF" => SplitMode.Leaf,
                "BRANCH_LT" => SplitMode.Lt,
                "BRANCH_LEQ" => SplitMode.Leq,
                "BRANCH_GT" => SplitMode.Gt,
                "BRANCH_GTE" => SplitMode.Gte,
                "BRANCH_EQ" => SplitMode.Eq,
                "BRANCH_NEQ" => SplitMode.Neq,
                _ => (SplitMode?)null,
            };
            if (mode is null)
            {
                reason = $"node mode {modes[i]} is not supported";
                return null;
            }

            if (mode == SplitMode.Leaf)
            {
                nodes[i] = new TreeNode(SplitMode.Leaf, 0, 0, -1, -1, false, 0, hitRates.Length == 0 ? 0 : hitRates[i]);
                continue;
            }

            if (featureIds[i] < 0 || featureIds[i] >= features)
            {
                reason = $"a split reads feature {featureIds[i]}, outside the input's {features} features";
                return null;
            }

            if (!index.TryGetValue((treeIds[i], trueIds[i]), out var t) || !index.TryGetValue((treeIds[i], falseIds[i]), out var f))
            {
                reason = $"a split of tree {treeIds[i]} points to a node the tree does not have";
                return null;
            }

            nodes[i] = new TreeNode(mode.Value, (int)featureIds[i], values[i], t, f, missing.Length != 0 && missing[i] != 0, 0, hitRates.Length == 0 ? 0 : hitRates[i]);
        }

        // Leaf weights are summed per leaf (ONNX Runtime adds every weight a leaf carries for the class).
        for (var k = 0; k < leafTree.Length; k++)
        {
            if (!index.TryGetValue((leafTree[k], leafNode[k]), out var i) || !nodes[i].IsLeaf)
            {
                reason = $"a leaf weight names node {leafNode[k]} of tree {leafTree[k]}, which is not a leaf";
                return null;
            }

            nodes[i] = nodes[i] with { Value = nodes[i].Value + leafWeight[k] };
        }

        var depth = 0;
        foreach (var root in roots)
        {
            var d = DepthOf(nodes, root, 0);
            if (d < 0)
            {
                reason = $"a tree is deeper than {MaxDepth} levels or has a cycle";
                return null;
            }

            depth = Math.Max(depth, d);
        }

        var outputName = classifier ? (node.Output.Count == 2 ? node.Output[1] : null) : (node.Output.Count == 1 ? node.Output[0] : null);
        if (outputName is null)
        {
            reason = $"the {node.OpType} has {node.Output.Count} outputs";
            return null;
        }

        reason = string.Empty;
        return new TreeEnsemble(classifier ? TreeOutput.BinaryClassifier : TreeOutput.Regressor, outputName, features, post == "LOGISTIC", baseValues.Length == 0 ? 0 : baseValues[0], [.. roots], nodes, depth);
    }

    private static int DepthOf(TreeNode[] nodes, int at, int level)
    {
        if (level > MaxDepth)
        {
            return -1;
        }

        var node = nodes[at];
        if (node.IsLeaf)
        {
            return level;
        }

        var t = DepthOf(nodes, node.True, level + 1);
        var f = t < 0 ? -1 : DepthOf(nodes, node.False, level + 1);
        return f < 0 ? -1 : Math.Max(t, f);
    }
}

/// <summary>How a split compares the feature with its threshold (ONNX's node modes).</summary>
public enum SplitMode : byte
{
    /// <summary>A leaf.</summary>
    Leaf,

    /// <summary>x &lt; threshold goes to the true child.</summary>
    Lt,

    /// <summary>x ≤ threshold.</summary>
    Leq,

    /// <summary>x &gt; threshold.</summary>
    Gt,

    /// <summary>x ≥ threshold.</summary>
    Gte,

    /// <summary>x = threshold.</summary>
    Eq,

    /// <summary>x ≠ threshold.</summary>
    Neq,
}

/// <summary>
/// One node: a split (feature, threshold, true and false child, whether a missing value goes to the true child) or a
/// leaf (its value, the sum of its weights). <paramref name="Cover"/> is ONNX's <c>nodes_hitrates</c> (our exporter
/// writes XGBoost's cover there), 0 when absent.
/// </summary>
public readonly record struct TreeNode(SplitMode Mode, int Feature, float Threshold, int True, int False, bool MissingTrue, float Value, float Cover)
{
    /// <summary>Whether this node is a leaf.</summary>
    public bool IsLeaf => Mode == SplitMode.Leaf;

    /// <summary>Whether <paramref name="x"/> goes to the true child, as ONNX Runtime decides it (NaN follows the missing flag first).</summary>
    public bool GoesTrue(float x)
    {
        if (MissingTrue && float.IsNaN(x))
        {
            return true;
        }

        return Mode switch
        {
            SplitMode.Lt => x < Threshold,
            SplitMode.Leq => x <= Threshold,
            SplitMode.Gt => x > Threshold,
            SplitMode.Gte => x >= Threshold,
            SplitMode.Eq => x == Threshold,
            _ => x != Threshold,
        };
    }
}
