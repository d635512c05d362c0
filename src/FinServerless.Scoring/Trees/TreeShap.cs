using System.Buffers;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

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
    private readonly LeafTables? _tables;

    /// <summary>Most table entries (doubles) the leaf tables may take: 64 MiB. Larger ensembles use the recursive algorithm.</summary>
    public const long MaxTableEntries = 8L << 20;

    private TreeShap(TreeEnsemble trees, bool tables)
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
        _tables = tables ? LeafTables.TryBuild(_nodes, trees.Roots, MaxTableEntries) : null;
    }

    /// <summary>
    /// How contributions are computed: "leaf-tables" (each leaf's contributions precomputed for every pattern of the
    /// row's agreement with its path, so a row costs a lookup and a few additions per leaf) or "recursive" (the
    /// published algorithm; for ensembles whose tables would pass <see cref="MaxTableEntries"/>). Both are exact.
    /// </summary>
    public string Algorithm => _tables is null ? "recursive" : "leaf-tables";

    /// <summary>The expected margin: the base value plus each tree's cover-weighted mean leaf.</summary>
    public double Bias { get; }

    /// <summary>Width of a row; <see cref="Contributions"/> writes one more value (the bias) after them.</summary>
    public int FeatureCount => _trees.FeatureCount;

    /// <summary>TreeSHAP for the ensemble, or null with the reason (no covers in the model, or a cover that is not positive).</summary>
    /// <remarks>With <paramref name="recursiveOnly"/>, the published recursive algorithm is used whatever the size (tests compare the two).</remarks>
    public static TreeShap? TryCreate(TreeEnsemble trees, out string reason, bool recursiveOnly = false)
    {
        if (trees.Nodes.Any(n => !n.IsLeaf && !(n.Cover > 0)))
        {
            reason = "the model's splits carry no positive cover (nodes_hitrates), which TreeSHAP needs";
            return null;
        }

        reason = string.Empty;
        return new TreeShap(trees, tables: !recursiveOnly);
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
        if (_tables is not null)
        {
            _tables.Add(_nodes, row, 1, FeatureCount, phi);
            return;
        }

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

    /// <summary>Rows handed to the leaf tables at once: each leaf's table is read once per block, not once per row.</summary>
    public const int BlockRows = 256;

    /// <summary>
    /// The contributions of <paramref name="count"/> rows (row-major, <see cref="FeatureCount"/> wide) into
    /// <paramref name="phi"/>, <see cref="FeatureCount"/> + 1 values per row (the bias last): the same values as
    /// <see cref="Contributions(ReadOnlySpan{float}, Span{double})"/> row by row, computed a block of rows at a time.
    /// </summary>
    public void Contributions(ReadOnlySpan<float> rows, int count, Span<double> phi)
    {
        var width = FeatureCount;
        ArgumentOutOfRangeException.ThrowIfLessThan(rows.Length, count * width, nameof(rows));
        ArgumentOutOfRangeException.ThrowIfLessThan(phi.Length, count * (width + 1), nameof(phi));
        if (_tables is null)
        {
            for (var r = 0; r < count; r++)
            {
                Contributions(rows.Slice(r * width, width), phi.Slice(r * (width + 1), width + 1));
            }

            return;
        }

        phi[..(count * (width + 1))].Clear();
        for (var r = 0; r < count; r++)
        {
            phi[(r * (width + 1)) + width] = Bias;
        }

        for (var start = 0; start < count; start += BlockRows)
        {
            var n = Math.Min(BlockRows, count - start);
            _tables.Add(_nodes, rows.Slice(start * width, n * width), n, width, phi.Slice(start * (width + 1), n * (width + 1)));
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

    /// <summary>
    /// Path-dependent TreeSHAP in closed form, per leaf. A leaf's path splits on d distinct features; for each of them
    /// the row either agrees with every split on that feature along the path (o = 1) or not (o = 0), and z is the
    /// product of the cover fractions of those splits. The leaf adds to feature i
    /// v · (o_i − z_i) · Σ_{S ⊆ U∖{i}} |S|!(d−|S|−1)!/d! · Π_{j∈S} o_j · Π_{j∉S, j≠i} z_j,
    /// which depends on the row only through the d agreement bits: so each leaf holds its contributions for every
    /// one of the 2^d patterns, computed once at load (the sum over S by elementary symmetric polynomials).
    /// </summary>
    private sealed unsafe class LeafTables
    {
        private readonly int[] _treeInternal;      // per tree: start of its internal nodes in _internal (length trees + 1)
        private readonly int[] _internal;          // global ids of internal nodes, grouped by tree
        private readonly int[] _treeLeaves;        // per tree: start of its leaves (length trees + 1)
        private readonly int[] _leafPath;          // per leaf: start of its path steps (length leaves + 1)
        private readonly int[] _stepNode;          // per step: the node's index among its tree's internal nodes
        private readonly bool[] _stepTrue;         // per step: whether the path takes the node's true branch
        private readonly byte[] _stepSlot;         // per step: which of the leaf's distinct features the node splits on
        private readonly int[] _leafFeatures;      // per leaf: start of its distinct features in _features (length leaves + 1)
        private readonly int[] _features;
        private readonly long[] _leafTable;        // per leaf: start of its 2^d × d table
        private readonly double[] _table;
        private readonly int _maxInternal;

        private LeafTables(int[] treeInternal, int[] internalNodes, int[] treeLeaves, int[] leafPath, int[] stepNode, bool[] stepTrue, byte[] stepSlot, int[] leafFeatures, int[] features, long[] leafTable, double[] table, int maxInternal)
        {
            (_treeInternal, _internal, _treeLeaves, _leafPath, _stepNode, _stepTrue, _stepSlot, _leafFeatures, _features, _leafTable, _table, _maxInternal) =
                (treeInternal, internalNodes, treeLeaves, leafPath, stepNode, stepTrue, stepSlot, leafFeatures, features, leafTable, table, maxInternal);
        }

        public static LeafTables? TryBuild(TreeNode[] nodes, IReadOnlyList<int> roots, long maxEntries)
        {
            var treeInternal = new List<int> { 0 };
            var internalNodes = new List<int>();
            var treeLeaves = new List<int> { 0 };
            var leafPath = new List<int> { 0 };
            var stepNode = new List<int>();
            var stepTrue = new List<bool>();
            var stepSlot = new List<byte>();
            var leafFeatures = new List<int> { 0 };
            var features = new List<int>();
            var leaves = new List<(int Leaf, double[] Zero)>();
            long entries = 0;
            var maxInternal = 0;
            foreach (var root in roots)
            {
                var local = new Dictionary<int, int>();
                var path = new List<(int Node, bool True)>();
                var ok = true;
                void Walk(int at)
                {
                    var node = nodes[at];
                    if (!ok)
                    {
                        return;
                    }

                    if (!node.IsLeaf)
                    {
                        local[at] = local.Count;
                        internalNodes.Add(at);
                        path.Add((at, true));
                        Walk(node.True);
                        path[^1] = (at, false);
                        Walk(node.False);
                        path.RemoveAt(path.Count - 1);
                        return;
                    }

                    // The leaf's distinct features, in path order, and each one's product of cover fractions.
                    var distinct = new List<int>();
                    var zero = new List<double>();
                    foreach (var (step, goesTrue) in path)
                    {
                        var split = nodes[step];
                        var child = goesTrue ? split.True : split.False;
                        var fraction = nodes[child].Cover / (double)split.Cover;
                        var slot = distinct.IndexOf(split.Feature);
                        if (slot < 0)
                        {
                            slot = distinct.Count;
                            distinct.Add(split.Feature);
                            zero.Add(1);
                        }

                        zero[slot] *= fraction;
                        stepNode.Add(step);
                        stepTrue.Add(goesTrue);
                        stepSlot.Add((byte)slot);
                    }

                    entries += (1L << distinct.Count) * distinct.Count;
                    if (distinct.Count > 16 || entries > maxEntries)
                    {
                        ok = false;
                        return;
                    }

                    leafPath.Add(stepNode.Count);
                    features.AddRange(distinct);
                    leafFeatures.Add(features.Count);
                    leaves.Add((at, [.. zero]));
                }

                Walk(root);
                if (!ok)
                {
                    return null;
                }

                treeInternal.Add(internalNodes.Count);
                treeLeaves.Add(leaves.Count);
                maxInternal = Math.Max(maxInternal, local.Count);

                // Steps name nodes by their index among the tree's internal nodes.
                for (var s = leafPath[treeLeaves[^2]]; s < stepNode.Count; s++)
                {
                    stepNode[s] = local[stepNode[s]];
                }
            }

            var table = new double[entries];
            var leafTable = new long[leaves.Count];
            long offset = 0;
            for (var l = 0; l < leaves.Count; l++)
            {
                leafTable[l] = offset;
                Fill(nodes[leaves[l].Leaf].Value, leaves[l].Zero, table.AsSpan((int)offset, (1 << leaves[l].Zero.Length) * leaves[l].Zero.Length));
                offset += (1L << leaves[l].Zero.Length) * leaves[l].Zero.Length;
            }

            return new LeafTables([.. treeInternal], [.. internalNodes], [.. treeLeaves], [.. leafPath], [.. stepNode], [.. stepTrue], [.. stepSlot], [.. leafFeatures], [.. features], leafTable, table, maxInternal);
        }

        /// <summary>A leaf's contributions for every agreement pattern: entry [mask · d + i] for the leaf's i-th distinct feature.</summary>
        private static void Fill(double value, double[] zero, Span<double> table)
        {
            var d = zero.Length;
            // w[k] = k!(d−k−1)!/d!: the Shapley weight of a coalition of k of the other d − 1 features.
            var w = new double[Math.Max(d, 1)];
            for (var k = 0; k < d; k++)
            {
                w[k] = Factorial(k) * Factorial(d - k - 1) / Factorial(d);
            }

            var e = new double[d + 1];
            for (var mask = 0; mask < 1 << d; mask++)
            {
                for (var i = 0; i < d; i++)
                {
                    // Elementary symmetric polynomials of the z of the agreeing features other than i; the product of the rest.
                    Array.Clear(e);
                    e[0] = 1;
                    var agreeing = 0;
                    var cold = 1.0;
                    for (var j = 0; j < d; j++)
                    {
                        if (j == i)
                        {
                            continue;
                        }

                        if ((mask & (1 << j)) == 0)
                        {
                            cold *= zero[j];
                            continue;
                        }

                        agreeing++;
                        for (var r = agreeing; r >= 1; r--)
                        {
                            e[r] += e[r - 1] * zero[j];
                        }
                    }

                    var sum = 0.0;
                    for (var k = 0; k <= agreeing; k++)
                    {
                        sum += w[k] * e[agreeing - k];
                    }

                    var one = (mask & (1 << i)) != 0 ? 1.0 : 0.0;
                    table[(mask * d) + i] = value * (one - zero[i]) * cold * sum;
                }
            }
        }

        private static double Factorial(int n)
        {
            var f = 1.0;
            for (var k = 2; k <= n; k++)
            {
                f *= k;
            }

            return f;
        }

        /// <summary>
        /// Adds every leaf's contributions for <paramref name="count"/> rows (row-major, <paramref name="width"/> wide)
        /// to <paramref name="phi"/> (<paramref name="width"/> + 1 per row). Tree by tree: the splits are decided for
        /// every row, then each leaf's agreement pattern is found for every row and its table entries added; the
        /// table, read for the whole block, stays in cache.
        /// </summary>
        public unsafe void Add(TreeNode[] nodes, ReadOnlySpan<float> rows, int count, int width, Span<double> phi)
        {
            // decisions: per internal node of the tree, per row, -1 (true branch) or 0; sums: feature-major, per row.
            var decisions = ArrayPool<int>.Shared.Rent(_maxInternal * count);
            var masks = ArrayPool<int>.Shared.Rent(count);
            var sums = ArrayPool<double>.Shared.Rent(width * count);
            var columns = ArrayPool<float>.Shared.Rent(width * count);
            try
            {
                Array.Clear(sums, 0, width * count);
                var vector = Avx2.IsSupported;
                for (var r = 0; r < count; r++)
                {
                    for (var j = 0; j < width; j++)
                    {
                        columns[(j * count) + r] = rows[(r * width) + j];
                    }
                }

                fixed (int* decided = decisions)
                fixed (int* mask = masks)
                fixed (double* all = _table)
                fixed (double* sum = sums)
                fixed (float* values = columns)
                {
                    var trees = _treeLeaves.Length - 1;
                    for (var t = 0; t < trees; t++)
                    {
                        var first = _treeInternal[t];
                        var internalCount = _treeInternal[t + 1] - first;
                        for (var k = 0; k < internalCount; k++)
                        {
                            var node = nodes[_internal[first + k]];
                            var column = decided + (k * count);
                            var x = values + (node.Feature * count);
                            var r = 0;
                            if (vector && node.Mode == SplitMode.Lt)
                            {
                                // x < threshold, or a missing value where the node sends missing values to its true side.
                                var threshold = Vector256.Create(node.Threshold);
                                for (; r + 8 <= count; r += 8)
                                {
                                    var v = Avx.LoadVector256(x + r);
                                    var goesTrue = Avx.CompareLessThan(v, threshold);
                                    if (node.MissingTrue)
                                    {
                                        goesTrue = Avx.Or(goesTrue, Avx.CompareUnordered(v, v));
                                    }

                                    Vector256.Store(goesTrue.AsInt32(), column + r);
                                }
                            }

                            for (; r < count; r++)
                            {
                                column[r] = node.GoesTrue(x[r]) ? -1 : 0;
                            }
                        }

                        for (var l = _treeLeaves[t]; l < _treeLeaves[t + 1]; l++)
                        {
                            var featuresStart = _leafFeatures[l];
                            var d = _leafFeatures[l + 1] - featuresStart;
                            new Span<int>(mask, count).Fill((1 << d) - 1);
                            for (var s = _leafPath[l]; s < _leafPath[l + 1]; s++)
                            {
                                // A row that does not take the path's branch here loses the bit of the node's feature.
                                var column = decided + (_stepNode[s] * count);
                                var want = _stepTrue[s] ? -1 : 0;
                                var clear = ~(1 << _stepSlot[s]);
                                var r = 0;
                                if (vector)
                                {
                                    var wanted = Vector256.Create(want);
                                    var cleared = Vector256.Create(clear);
                                    for (; r + 8 <= count; r += 8)
                                    {
                                        var agree = ~(Vector256.Load(column + r) ^ wanted);
                                        Vector256.Store(Vector256.Load(mask + r) & (agree | cleared), mask + r);
                                    }
                                }

                                for (; r < count; r++)
                                {
                                    if (column[r] != want)
                                    {
                                        mask[r] &= clear;
                                    }
                                }
                            }

                            var table = all + _leafTable[l];
                            for (var i = 0; i < d; i++)
                            {
                                var target = sum + (_features[featuresStart + i] * count);
                                var r = 0;
                                if (vector)
                                {
                                    var dv = Vector128.Create(d);
                                    var iv = Vector128.Create(i);
                                    for (; r + 4 <= count; r += 4)
                                    {
                                        var at = (Vector128.Load(mask + r) * dv) + iv;
                                        Vector256.Store(Vector256.Load(target + r) + Avx2.GatherVector256(table, at, 8), target + r);
                                    }
                                }

                                for (; r < count; r++)
                                {
                                    target[r] += table[(mask[r] * d) + i];
                                }
                            }
                        }
                    }

                    var stride = width + 1;
                    for (var r = 0; r < count; r++)
                    {
                        for (var j = 0; j < width; j++)
                        {
                            phi[(r * stride) + j] += sum[(j * count) + r];
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<int>.Shared.Return(decisions);
                ArrayPool<int>.Shared.Return(masks);
                ArrayPool<double>.Shared.Return(sums);
                ArrayPool<float>.Shared.Return(columns);
            }
        }
    }

    private struct PathElement
    {
        public int Feature;
        public double Zero;
        public double One;
        public double Weight;
    }
}
