namespace FinServerless.Training.Trainers;

/// <summary>
/// Sorts floats (no NaNs) together with a 0/1 flag per value, in three counting passes over 11-bit digits of a
/// 33-bit key (an order-preserving image of the float, then the flag): linear time, which matters for the
/// scorecard's equal-frequency bins (one sort per feature per fold).
/// </summary>
internal static class FloatRadixSort
{
    /// <summary>Sorts <paramref name="values"/> ascending in place, permuting <paramref name="flags"/> alongside.</summary>
    public static void Sort(float[] values, bool[] flags)
    {
        var keys = new ulong[values.Length];
        for (var i = 0; i < values.Length; i++)
        {
            // Flip every bit of negatives and only the sign bit of positives: unsigned order = float order.
            var bits = BitConverter.SingleToUInt32Bits(values[i]);
            var ordered = (bits & 0x8000_0000u) != 0 ? ~bits : bits | 0x8000_0000u;
            keys[i] = ((ulong)ordered << 1) | (flags[i] ? 1ul : 0ul);
        }

        var buffer = new ulong[values.Length];
        var counts = new int[2048];
        for (var shift = 0; shift < 33; shift += 11)
        {
            Array.Clear(counts);
            foreach (var key in keys)
            {
                counts[(int)(key >> shift) & 0x7FF]++;
            }

            var total = 0;
            for (var b = 0; b < counts.Length; b++)
            {
                (counts[b], total) = (total, total + counts[b]);
            }

            foreach (var key in keys)
            {
                buffer[counts[(int)(key >> shift) & 0x7FF]++] = key;
            }

            (keys, buffer) = (buffer, keys);
        }

        for (var i = 0; i < values.Length; i++)
        {
            var key = keys[i];
            var ordered = (uint)(key >> 1);
            values[i] = BitConverter.UInt32BitsToSingle((ordered & 0x8000_0000u) != 0 ? ordered & 0x7FFF_FFFFu : ~ordered);
            flags[i] = (key & 1) != 0;
        }
    }
}
