using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FinServerless.Scoring.Trees;

/// <summary>Which evaluator a <see cref="TreeKernel"/> runs.</summary>
public enum TreeKernelKind
{
    /// <summary>Trees padded to depth 6, node tables and leaves held in AVX-512 registers, 4 × 16 rows at a time.</summary>
    Avx512,

    /// <summary>Trees padded to depth 6, AVX2 permutes and gathers, 4 × 8 rows at a time.</summary>
    Avx2,

    /// <summary>One row at a time: fixed six steps for padded trees, a walk of the nodes for any other tree.</summary>
    Scalar,
}

/// <summary>
/// Evaluates a <see cref="TreeEnsemble"/> on rows of float features (row-major, NaN = missing) and returns its
/// probability output: for a binary classifier the positive class's probability, for a regressor its value.
/// Leaves are summed in float in tree order, the base value is added last, and LOGISTIC is computed as ONNX Runtime
/// computes it, so results equal ORT's to float rounding.
/// </summary>
/// <remarks>
/// The SIMD kernels need trees of depth 6 at most with BRANCH_LT splits: each tree is padded to a full depth-6 tree
/// (a leaf above level 6 is repeated below it), so every row takes exactly six branch-free steps; a missing value
/// picks its side without a branch (the node's missing-goes-true flag is kept in the sign bit of its feature code).
/// </remarks>
public sealed unsafe class TreeKernel
{
    /// <summary>Depth every tree is padded to for the SIMD kernels.</summary>
    public const int PaddedDepth = 6;

    private const int Internal = 64; // 63 internal nodes per padded tree, one slot of padding
    private const int Leaves = 64;
    private const int Block = 256; // rows per block (a multiple of 4 × 16)

    private readonly TreeEnsemble _trees;

    // Padded layout (null when the ensemble does not fit it): per tree 64 feature codes, 64 thresholds, 64 leaves, level by level.
    private readonly int[]? _code;
    private readonly float[]? _threshold;
    private readonly float[]? _leaf;

    // Walk layout: every node's feature, threshold, children (true first), missing flag and mode.
    private readonly TreeNode[] _nodes;
    private readonly int[] _roots;

    private TreeKernel(TreeEnsemble trees, TreeKernelKind kind, int[]? code, float[]? threshold, float[]? leaf)
    {
        _trees = trees;
        Kind = kind;
        _code = code;
        _threshold = threshold;
        _leaf = leaf;
        _nodes = [.. trees.Nodes];
        _roots = [.. trees.Roots];
    }

    /// <summary>The evaluator in use.</summary>
    public TreeKernelKind Kind { get; }

    /// <summary>Width of a row.</summary>
    public int FeatureCount => _trees.FeatureCount;

    /// <summary>Whether the padded (SIMD) layout is used; otherwise the scalar path walks the nodes.</summary>
    public bool Padded => _code is not null;

    /// <summary>The fastest kernel this CPU runs for the ensemble.</summary>
    public static TreeKernel Create(TreeEnsemble trees)
    {
        var best = Fits(trees) ? (Avx512F.IsSupported && Avx2.IsSupported ? TreeKernelKind.Avx512 : Avx2.IsSupported ? TreeKernelKind.Avx2 : TreeKernelKind.Scalar) : TreeKernelKind.Scalar;
        return TryCreate(trees, best, out _)!;
    }

    /// <summary>The kernel <paramref name="kind"/>, or null with the reason when the CPU or the ensemble cannot run it.</summary>
    public static TreeKernel? TryCreate(TreeEnsemble trees, TreeKernelKind kind, out string reason)
    {
        var fits = Fits(trees);
        if (kind != TreeKernelKind.Scalar && !fits)
        {
            reason = $"the {kind} kernel needs trees of depth {PaddedDepth} at most with BRANCH_LT splits; this ensemble is depth {trees.Depth}{(trees.AllLessThan ? string.Empty : " with other split modes")}";
            return null;
        }

        if ((kind == TreeKernelKind.Avx512 && !(Avx512F.IsSupported && Avx2.IsSupported)) || (kind == TreeKernelKind.Avx2 && !Avx2.IsSupported))
        {
            reason = $"this CPU has no {kind}";
            return null;
        }

        reason = string.Empty;
        if (!fits)
        {
            return new TreeKernel(trees, kind, null, null, null);
        }

        var count = trees.Roots.Count;
        var code = GC.AllocateArray<int>(count * Internal, pinned: true);
        var threshold = GC.AllocateArray<float>(count * Internal, pinned: true);
        var leaf = GC.AllocateArray<float>(count * Leaves, pinned: true);
        for (var t = 0; t < count; t++)
        {
            Place(trees.Nodes, trees.Roots[t], 0, 0, code.AsSpan(t * Internal, Internal), threshold.AsSpan(t * Internal, Internal), leaf.AsSpan(t * Leaves, Leaves));
        }

        return new TreeKernel(trees, kind, code, threshold, leaf);
    }

    private static bool Fits(TreeEnsemble trees) => trees.Depth <= PaddedDepth && trees.AllLessThan;

    /// <summary>Writes the subtree at <paramref name="node"/> into the padded tree: position <paramref name="local"/> of <paramref name="level"/>.</summary>
    private static void Place(IReadOnlyList<TreeNode> nodes, int node, int level, int local, Span<int> code, Span<float> threshold, Span<float> leaf)
    {
        var n = nodes[node];
        if (level == PaddedDepth)
        {
            leaf[local] = n.Value; // Fits() guarantees a leaf here
            return;
        }

        var at = (1 << level) - 1 + local;
        if (n.IsLeaf)
        {
            // Padding: any comparison will do, both sides carry the same leaf.
            code[at] = 0;
            threshold[at] = 0;
            Place(nodes, node, level + 1, 2 * local, code, threshold, leaf);
            Place(nodes, node, level + 1, (2 * local) + 1, code, threshold, leaf);
            return;
        }

        code[at] = n.Feature | (n.MissingTrue ? int.MinValue : 0);
        threshold[at] = n.Threshold;
        Place(nodes, n.True, level + 1, 2 * local, code, threshold, leaf);
        Place(nodes, n.False, level + 1, (2 * local) + 1, code, threshold, leaf);
    }

    /// <summary>Scores <paramref name="rows"/> rows of <paramref name="features"/> (rows × <see cref="FeatureCount"/>) into <paramref name="output"/>.</summary>
    public void Predict(ReadOnlySpan<float> features, int rows, Span<float> output)
    {
        var width = FeatureCount;
        ArgumentOutOfRangeException.ThrowIfLessThan(features.Length, checked(rows * width), nameof(features));
        ArgumentOutOfRangeException.ThrowIfLessThan(output.Length, rows, nameof(output));
        var acc = stackalloc float[Block];
        fixed (float* x = features)
        fixed (float* result = output)
        {
            for (var r0 = 0; r0 < rows; r0 += Block)
            {
                var n = Math.Min(Block, rows - r0);
                new Span<float>(acc, Block).Clear();
                var xb = x + ((long)r0 * width);
                if (n == Block && Kind == TreeKernelKind.Avx512)
                {
                    SumAvx512(xb, width, acc);
                }
                else if (n == Block && Kind == TreeKernelKind.Avx2)
                {
                    SumAvx2(xb, width, acc);
                }
                else if (Padded)
                {
                    SumPadded(xb, width, n, acc);
                }
                else
                {
                    SumWalk(xb, width, n, acc);
                }

                var b = _trees.BaseValue;
                for (var i = 0; i < n; i++)
                {
                    var score = acc[i] + b;
                    result[r0 + i] = _trees.Logistic ? Logistic(score) : score;
                }
            }
        }
    }

    /// <summary>The logistic function as ONNX Runtime computes it (on |x|, mirrored for negative x).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Logistic(float x)
    {
        var v = 1f / (1f + MathF.Exp(-MathF.Abs(x)));
        return x < 0 ? 1f - v : v;
    }

    private void SumWalk(float* x, int width, int n, float* acc)
    {
        fixed (TreeNode* nodes = _nodes)
        {
            foreach (var root in _roots)
            {
                var row = x;
                for (var i = 0; i < n; i++, row += width)
                {
                    var at = root;
                    while (!nodes[at].IsLeaf)
                    {
                        var node = nodes + at;
                        at = node->GoesTrue(row[node->Feature]) ? node->True : node->False;
                    }

                    acc[i] += nodes[at].Value;
                }
            }
        }
    }

    private void SumPadded(float* x, int width, int n, float* acc)
    {
        fixed (int* codes = _code)
        fixed (float* thresholds = _threshold, leaves = _leaf)
        {
            for (var t = 0; t < _roots.Length; t++)
            {
                var code = codes + (t * Internal);
                var thr = thresholds + (t * Internal);
                var leaf = leaves + (t * Leaves);
                var row = x;
                for (var i = 0; i < n; i++, row += width)
                {
                    var at = 0;
                    for (var level = 0; level < PaddedDepth; level++)
                    {
                        var c = code[at];
                        var v = row[c & int.MaxValue];
                        var goTrue = v < thr[at] || (c < 0 && float.IsNaN(v));
                        at = (2 * at) + (goTrue ? 1 : 2);
                    }

                    acc[i] += leaf[at - Internal + 1];
                }
            }
        }
    }

    private void SumAvx2(float* x, int width, float* acc)
    {
        var lane = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * width;
        fixed (int* codes = _code)
        fixed (float* thresholds = _threshold, leaves = _leaf)
        {
            for (var t = 0; t < _roots.Length; t++)
            {
                var code = codes + (t * Internal);
                var thr = thresholds + (t * Internal);
                var leaf = leaves + (t * Leaves);

                // Levels 0–3 (1 + 2 + 4 + 8 nodes) fit in registers; levels 4 and 5 and the leaves are gathered.
                var c0 = Vector256.Create(code[0]);
                var t0 = Vector256.Create(thr[0]);
                var c1 = Vector256.Load(code + 1);
                var t1 = Vector256.Load(thr + 1);
                var c2 = Vector256.Load(code + 3);
                var t2 = Vector256.Load(thr + 3);
                var c3 = Vector256.Load(code + 7);
                var t3 = Vector256.Load(thr + 7);
                for (var g = 0; g < Block; g += 32)
                {
                    var b0 = x + ((long)g * width);
                    var b1 = b0 + (8L * width);
                    var b2 = b1 + (8L * width);
                    var b3 = b2 + (8L * width);
                    var z = Vector256<int>.Zero;
                    var j0 = Step8(b0, lane, c0, t0, z);
                    var j1 = Step8(b1, lane, c0, t0, z);
                    var j2 = Step8(b2, lane, c0, t0, z);
                    var j3 = Step8(b3, lane, c0, t0, z);
                    j0 = Step8(b0, lane, Avx2.PermuteVar8x32(c1, j0), Avx2.PermuteVar8x32(t1, j0), j0);
                    j1 = Step8(b1, lane, Avx2.PermuteVar8x32(c1, j1), Avx2.PermuteVar8x32(t1, j1), j1);
                    j2 = Step8(b2, lane, Avx2.PermuteVar8x32(c1, j2), Avx2.PermuteVar8x32(t1, j2), j2);
                    j3 = Step8(b3, lane, Avx2.PermuteVar8x32(c1, j3), Avx2.PermuteVar8x32(t1, j3), j3);
                    j0 = Step8(b0, lane, Avx2.PermuteVar8x32(c2, j0), Avx2.PermuteVar8x32(t2, j0), j0);
                    j1 = Step8(b1, lane, Avx2.PermuteVar8x32(c2, j1), Avx2.PermuteVar8x32(t2, j1), j1);
                    j2 = Step8(b2, lane, Avx2.PermuteVar8x32(c2, j2), Avx2.PermuteVar8x32(t2, j2), j2);
                    j3 = Step8(b3, lane, Avx2.PermuteVar8x32(c2, j3), Avx2.PermuteVar8x32(t2, j3), j3);
                    j0 = Step8(b0, lane, Avx2.PermuteVar8x32(c3, j0), Avx2.PermuteVar8x32(t3, j0), j0);
                    j1 = Step8(b1, lane, Avx2.PermuteVar8x32(c3, j1), Avx2.PermuteVar8x32(t3, j1), j1);
                    j2 = Step8(b2, lane, Avx2.PermuteVar8x32(c3, j2), Avx2.PermuteVar8x32(t3, j2), j2);
                    j3 = Step8(b3, lane, Avx2.PermuteVar8x32(c3, j3), Avx2.PermuteVar8x32(t3, j3), j3);
                    var c4 = code + 15;
                    var t4 = thr + 15;
                    j0 = Step8(b0, lane, Avx2.GatherVector256(c4, j0, 4), Avx2.GatherVector256(t4, j0, 4), j0);
                    j1 = Step8(b1, lane, Avx2.GatherVector256(c4, j1, 4), Avx2.GatherVector256(t4, j1, 4), j1);
                    j2 = Step8(b2, lane, Avx2.GatherVector256(c4, j2, 4), Avx2.GatherVector256(t4, j2, 4), j2);
                    j3 = Step8(b3, lane, Avx2.GatherVector256(c4, j3, 4), Avx2.GatherVector256(t4, j3, 4), j3);
                    var c5 = code + 31;
                    var t5 = thr + 31;
                    j0 = Step8(b0, lane, Avx2.GatherVector256(c5, j0, 4), Avx2.GatherVector256(t5, j0, 4), j0);
                    j1 = Step8(b1, lane, Avx2.GatherVector256(c5, j1, 4), Avx2.GatherVector256(t5, j1, 4), j1);
                    j2 = Step8(b2, lane, Avx2.GatherVector256(c5, j2, 4), Avx2.GatherVector256(t5, j2, 4), j2);
                    j3 = Step8(b3, lane, Avx2.GatherVector256(c5, j3, 4), Avx2.GatherVector256(t5, j3, 4), j3);
                    var a = acc + g;
                    Vector256.Store(Vector256.Load(a) + Avx2.GatherVector256(leaf, j0, 4), a);
                    Vector256.Store(Vector256.Load(a + 8) + Avx2.GatherVector256(leaf, j1, 4), a + 8);
                    Vector256.Store(Vector256.Load(a + 16) + Avx2.GatherVector256(leaf, j2, 4), a + 16);
                    Vector256.Store(Vector256.Load(a + 24) + Avx2.GatherVector256(leaf, j3, 4), a + 24);
                }
            }
        }
    }

    /// <summary>
    /// One level for 8 rows: <paramref name="j"/> is each row's position in the level; it moves to 2j (true) or
    /// 2j + 1 (false) of the next. True when x &lt; threshold, or x is NaN and the node sends missing values to true.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<int> Step8(float* rows, Vector256<int> lane, Vector256<int> code, Vector256<float> threshold, Vector256<int> j)
    {
        var v = Avx2.GatherVector256(rows, lane + (code & Vector256.Create(int.MaxValue)), 4);
        var less = Vector256.LessThan(v, threshold).AsInt32();
        var nan = ~Vector256.Equals(v, v).AsInt32();
        var goTrue = less | (nan & Vector256.ShiftRightArithmetic(code, 31)); // -1 true, 0 false
        return j + j + goTrue + Vector256<int>.One;
    }

    private void SumAvx512(float* x, int width, float* acc)
    {
        var lane = Vector512.Create(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) * width;
        fixed (int* codes = _code)
        fixed (float* thresholds = _threshold, leaves = _leaf)
        {
            for (var t = 0; t < _roots.Length; t++)
            {
                var code = codes + (t * Internal);
                var thr = thresholds + (t * Internal);
                var leaf = leaves + (t * Leaves);

                // Every level and the 64 leaves stay in registers; only the feature values are gathered.
                var c0 = Vector512.Create(code[0]);
                var t0 = Vector512.Create(thr[0]);
                var c1 = Vector512.Load(code + 1);
                var t1 = Vector512.Load(thr + 1);
                var c2 = Vector512.Load(code + 3);
                var t2 = Vector512.Load(thr + 3);
                var c3 = Vector512.Load(code + 7);
                var t3 = Vector512.Load(thr + 7);
                var c4 = Vector512.Load(code + 15);
                var t4 = Vector512.Load(thr + 15);
                var c5a = Vector512.Load(code + 31);
                var t5a = Vector512.Load(thr + 31);
                var c5b = Vector512.Load(code + 47);
                var t5b = Vector512.Load(thr + 47);
                var l0 = Vector512.Load(leaf);
                var l1 = Vector512.Load(leaf + 16);
                var l2 = Vector512.Load(leaf + 32);
                var l3 = Vector512.Load(leaf + 48);
                for (var g = 0; g < Block; g += 64)
                {
                    var b0 = x + ((long)g * width);
                    var b1 = b0 + (16L * width);
                    var b2 = b1 + (16L * width);
                    var b3 = b2 + (16L * width);
                    var z = Vector512<int>.Zero;
                    var j0 = Step16(b0, lane, c0, t0, z);
                    var j1 = Step16(b1, lane, c0, t0, z);
                    var j2 = Step16(b2, lane, c0, t0, z);
                    var j3 = Step16(b3, lane, c0, t0, z);
                    j0 = Step16(b0, lane, Avx512F.PermuteVar16x32(c1, j0), Avx512F.PermuteVar16x32(t1, j0), j0);
                    j1 = Step16(b1, lane, Avx512F.PermuteVar16x32(c1, j1), Avx512F.PermuteVar16x32(t1, j1), j1);
                    j2 = Step16(b2, lane, Avx512F.PermuteVar16x32(c1, j2), Avx512F.PermuteVar16x32(t1, j2), j2);
                    j3 = Step16(b3, lane, Avx512F.PermuteVar16x32(c1, j3), Avx512F.PermuteVar16x32(t1, j3), j3);
                    j0 = Step16(b0, lane, Avx512F.PermuteVar16x32(c2, j0), Avx512F.PermuteVar16x32(t2, j0), j0);
                    j1 = Step16(b1, lane, Avx512F.PermuteVar16x32(c2, j1), Avx512F.PermuteVar16x32(t2, j1), j1);
                    j2 = Step16(b2, lane, Avx512F.PermuteVar16x32(c2, j2), Avx512F.PermuteVar16x32(t2, j2), j2);
                    j3 = Step16(b3, lane, Avx512F.PermuteVar16x32(c2, j3), Avx512F.PermuteVar16x32(t2, j3), j3);
                    j0 = Step16(b0, lane, Avx512F.PermuteVar16x32(c3, j0), Avx512F.PermuteVar16x32(t3, j0), j0);
                    j1 = Step16(b1, lane, Avx512F.PermuteVar16x32(c3, j1), Avx512F.PermuteVar16x32(t3, j1), j1);
                    j2 = Step16(b2, lane, Avx512F.PermuteVar16x32(c3, j2), Avx512F.PermuteVar16x32(t3, j2), j2);
                    j3 = Step16(b3, lane, Avx512F.PermuteVar16x32(c3, j3), Avx512F.PermuteVar16x32(t3, j3), j3);
                    j0 = Step16(b0, lane, Avx512F.PermuteVar16x32(c4, j0), Avx512F.PermuteVar16x32(t4, j0), j0);
                    j1 = Step16(b1, lane, Avx512F.PermuteVar16x32(c4, j1), Avx512F.PermuteVar16x32(t4, j1), j1);
                    j2 = Step16(b2, lane, Avx512F.PermuteVar16x32(c4, j2), Avx512F.PermuteVar16x32(t4, j2), j2);
                    j3 = Step16(b3, lane, Avx512F.PermuteVar16x32(c4, j3), Avx512F.PermuteVar16x32(t4, j3), j3);
                    j0 = Step16(b0, lane, Avx512F.PermuteVar16x32x2(c5a, j0, c5b), Avx512F.PermuteVar16x32x2(t5a, j0, t5b), j0);
                    j1 = Step16(b1, lane, Avx512F.PermuteVar16x32x2(c5a, j1, c5b), Avx512F.PermuteVar16x32x2(t5a, j1, t5b), j1);
                    j2 = Step16(b2, lane, Avx512F.PermuteVar16x32x2(c5a, j2, c5b), Avx512F.PermuteVar16x32x2(t5a, j2, t5b), j2);
                    j3 = Step16(b3, lane, Avx512F.PermuteVar16x32x2(c5a, j3, c5b), Avx512F.PermuteVar16x32x2(t5a, j3, t5b), j3);
                    var a = acc + g;
                    Vector512.Store(Vector512.Load(a) + Leaf16(l0, l1, l2, l3, j0), a);
                    Vector512.Store(Vector512.Load(a + 16) + Leaf16(l0, l1, l2, l3, j1), a + 16);
                    Vector512.Store(Vector512.Load(a + 32) + Leaf16(l0, l1, l2, l3, j2), a + 32);
                    Vector512.Store(Vector512.Load(a + 48) + Leaf16(l0, l1, l2, l3, j3), a + 48);
                }
            }
        }
    }

    /// <summary>Leaf j (0–63) of each row from four registers of 16: the low five bits pick within a pair, bit 5 picks the pair.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Leaf16(Vector512<float> l0, Vector512<float> l1, Vector512<float> l2, Vector512<float> l3, Vector512<int> j)
    {
        var low = Avx512F.PermuteVar16x32x2(l0, j, l1);
        var high = Avx512F.PermuteVar16x32x2(l2, j, l3);
        var bit5 = Vector512.Create(32);
        return Vector512.ConditionalSelect(Vector512.Equals(j & bit5, bit5).AsSingle(), high, low);
    }

    /// <summary>One level for 16 rows (see <see cref="Step8"/>); .NET has no AVX-512 gather, so two AVX2 gathers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<int> Step16(float* rows, Vector512<int> lane, Vector512<int> code, Vector512<float> threshold, Vector512<int> j)
    {
        var index = lane + (code & Vector512.Create(int.MaxValue));
        var v = Vector512.Create(Avx2.GatherVector256(rows, index.GetLower(), 4), Avx2.GatherVector256(rows, index.GetUpper(), 4));
        var less = Vector512.LessThan(v, threshold).AsInt32();
        var nan = ~Vector512.Equals(v, v).AsInt32();
        var goTrue = less | (nan & Vector512.ShiftRightArithmetic(code, 31));
        return j + j + goTrue + Vector512<int>.One;
    }
}
