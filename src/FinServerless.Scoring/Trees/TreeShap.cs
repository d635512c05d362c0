using System.Buffers;

namespace FinServerless.Scoring.Trees;

/// <summary>
/// Exact TreeSHAP (the path-dependent algorithm of Lundberg et al., 2018) over a <see cref="TreeEnsemble"/> read from
/// the scored ONNX model: per row, each feature's contribution to the raw score (the margin, log-odds for a
/// classifier) and the bias, the expected margin over the training data, so that contributions + bias = margin.
/// Node covers come from the model's <c>nodes_hitrates</c> (our XGBoost export writes XGBoost's hessian sums
/// there), so the contributions equal XGBoost's <c>pred_contribs</c>; a missing value follows the node's
/// missing-value side, as scoring does.
/// </summary>
public sealed class TreeShap
{
    private readonly TreeEnsemble _trees;
    private readonly TreeNode[] _nodes;
    private readonly int _pathLength;

    private TreeShap(TreeEnsemble trees)
    {
        _trees = trees;
        _nodes = [.. trees.Nodes];
        var mean = new double[_nodes.Length];
        var bias = (double)trees.BaseValue;
        foreach (var root in trees.Roots)
        {
            bias += MeanValue(root, mean);
        }

        Bias = bias;
        var d = trees.Depth + 2;
        _pathLength = d * (d + 1) / 2;
    }

    /// <summary>The expected margin: the base value plus each tree's cover-weighted mean leaf.</summary>
    public double Bias { get; }

    /// <summary>Width of a row; <see cref="Contributions"/> writes one more value (the bias) after them.</summary>
    public int FeatureCount => _trees.FeatureCount;

    /// <summary>TreeSHAP for the ensemble, or null with the reason (no covers in the model, or a cover that is not positive).</summary>
    public static TreeShap? TryCreate(TreeEnsemble trees, out string reason)
    {
        if (trees.Nodes.Any(n => !n.IsLeaf && !(n.Cover > 0)))
        {
            reason = "the model's splits carry no positive cover (nodes_hitrates), which TreeSHAP needs";
            return null;
        }

        reason = string.Empty;
        return new TreeShap(trees);
    }

    /// <summary>
    /// Writes the contributions of <paramref name="row"/>'s features to <paramref name="phi"/>[0..F) and the bias to
    /// <paramref name="phi"/>[F], in margin units; their sum is the row's margin.
    /// </summary>
    public void Contributions(ReadOnlySpan<float> row, Span<double> phi)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(row.Length, FeatureCount, nameof(row));
        ArgumentOutOfRangeException.ThrowIfLessThan(phi.Length, FeatureCount + 1, nameof(phi));
        phi[..(FeatureCount + 1)].Clear();
        phi[FeatureCount] = Bias;
        var path = ArrayPool<PathElement>.Shared.Rent(_pathLength);
        try
        {
            foreach (var root in _trees.Roots)
            {
                Recurse(row, phi, root, path, 0, 0, 1, 1, -1);
            }
        }
        finally
        {
            ArrayPool<PathElement>.Shared.Return(path);
        }
    }

    private double MeanValue(int at, double[] mean)
    {
        var node = _nodes[at];
        if (node.IsLeaf)
        {
            return mean[at] = node.Value;
        }

        var t = MeanValue(node.True, mean);
        var f = MeanValue(node.False, mean);
        return mean[at] = ((t * _nodes[node.True].Cover) + (f * _nodes[node.False].Cover)) / node.Cover;
    }

    /// <summary>
    /// One node of the walk. The path so far lives at <paramref name="parentStart"/> of <paramref name="path"/>
    /// (<paramref name="depth"/> + 1 elements once extended); this call works on a copy right after it.
    /// </summary>
    private void Recurse(ReadOnlySpan<float> row, Span<double> phi, int at, PathElement[] path, int parentStart, int depth, double zero, double one, int feature)
    {
        var start = parentStart + depth + 1;
        if (depth > 0 || parentStart > 0)
        {
            Array.Copy(path, parentStart, path, start, depth + 1);
        }
        else
        {
            start = 0;
        }

        var unique = path.AsSpan(start);
        Extend(unique, depth, zero, one, feature);
        var node = _nodes[at];
        if (node.IsLeaf)
        {
            for (var i = 1; i <= depth; i++)
            {
                var w = UnwoundSum(unique, depth, i);
                ref var e = ref unique[i];
                phi[e.Feature] += w * (e.One - e.Zero) * node.Value;
            }

            return;
        }

        var goTrue = node.GoesTrue(row[node.Feature]);
        var hot = goTrue ? node.True : node.False;
        var cold = goTrue ? node.False : node.True;
        var hotZero = _nodes[hot].Cover / (double)node.Cover;
        var coldZero = _nodes[cold].Cover / (double)node.Cover;
        double incomingZero = 1, incomingOne = 1;

        // A feature already split on above: its earlier fractions come with it, and its earlier element leaves the path.
        var k = 1;
        for (; k <= depth; k++)
        {
            if (unique[k].Feature == node.Feature)
            {
                break;
            }
        }

        if (k <= depth)
        {
            incomingZero = unique[k].Zero;
            incomingOne = unique[k].One;
            Unwind(unique, depth, k);
            depth--;
        }

        Recurse(row, phi, hot, path, start, depth + 1, hotZero * incomingZero, incomingOne, node.Feature);
        Recurse(row, phi, cold, path, start, depth + 1, coldZero * incomingZero, 0, node.Feature);
    }

    private static void Extend(Span<PathElement> p, int depth, double zero, double one, int feature)
    {
        p[depth] = new PathElement { Feature = feature, Zero = zero, One = one, Weight = depth == 0 ? 1 : 0 };
        for (var i = depth - 1; i >= 0; i--)
        {
            p[i + 1].Weight += one * p[i].Weight * (i + 1) / (depth + 1);
            p[i].Weight = zero * p[i].Weight * (depth - i) / (depth + 1);
        }
    }

    private static void Unwind(Span<PathElement> p, int depth, int index)
    {
        var one = p[index].One;
        var zero = p[index].Zero;
        var next = p[depth].Weight;
        for (var i = depth - 1; i >= 0; i--)
        {
            if (one != 0)
            {
                var previous = p[i].Weight;
                p[i].Weight = next * (depth + 1) / ((i + 1) * one);
                next = previous - (p[i].Weight * zero * (depth - i) / (depth + 1));
            }
            else
            {
                p[i].Weight = p[i].Weight * (depth + 1) / (zero * (depth - i));
            }
        }

        for (var i = index; i < depth; i++)
        {
            p[i].Feature = p[i + 1].Feature;
            p[i].Zero = p[i + 1].Zero;
            p[i].One = p[i + 1].One;
        }
    }

    private static double UnwoundSum(Span<PathElement> p, int depth, int index)
    {
        var one = p[index].One;
        var zero = p[index].Zero;
        var next = p[depth].Weight;
        double total = 0;
        for (var i = depth - 1; i >= 0; i--)
        {
            if (one != 0)
            {
                var w = next * (depth + 1) / ((i + 1) * one);
                total += w;
                next = p[i].Weight - (w * zero * (depth - i) / (depth + 1));
            }
            else if (zero != 0)
            {
                total += p[i].Weight / zero / ((depth - i) / (double)(depth + 1));
            }
        }

        return total;
    }

    private struct PathElement
    {
        public int Feature;
        public double Zero;
        public double One;
        public double Weight;
    }
}
