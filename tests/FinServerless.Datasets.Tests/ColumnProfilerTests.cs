using FinServerless.Datasets.Profiling;

namespace FinServerless.Datasets.Tests;

public sealed class ColumnProfilerTests
{
    private const int N = 1_000_000;

    private static void AssertNearTrueQuantiles(ColumnProfile profile)
    {
        // Values are 0..N-1: the true p-quantile is p·N. The sample of 20,000 puts p50 within ±0.4% of N
        // (one standard error); ±1.5% fails only for a biased sample (for example one that favours early values).
        foreach (var (name, p) in new[] { ("p05", 0.05), ("p25", 0.25), ("p50", 0.5), ("p75", 0.75), ("p95", 0.95) })
        {
            Assert.InRange(profile.Quantiles![name], (p - 0.015) * N, (p + 0.015) * N);
        }

        Assert.Equal(N, profile.Count);
        Assert.Equal((N - 1) / 2.0, profile.Mean!.Value, 6);
        Assert.Equal(0, profile.Min);
        Assert.Equal(N - 1, profile.Max);
        Assert.All(profile.Histogram!.Shares, f => Assert.InRange(f, 0.08, 0.12));
    }

    [Fact]
    public void The_reservoir_of_an_ordered_stream_is_a_fair_sample_of_all_of_it()
    {
        var profiler = new ColumnProfiler("x", "float", categorical: false, reference: null, seed: 17);
        for (var i = 0; i < N; i++)
        {
            profiler.Add(i);
        }

        AssertNearTrueQuantiles(profiler.Build());
    }

    [Fact]
    public void Merged_reservoirs_of_two_workers_are_a_fair_sample_of_both()
    {
        // One worker saw the low three quarters, the other the high quarter.
        var low = new ColumnProfiler("x", "float", categorical: false, reference: null, seed: 17);
        var high = new ColumnProfiler("x", "float", categorical: false, reference: null, seed: 17);
        for (var i = 0; i < N; i++)
        {
            (i < N * 3 / 4 ? low : high).Add(i);
        }

        low.Merge(high);
        AssertNearTrueQuantiles(low.Build());
    }

    [Fact]
    public void Values_added_in_runs_give_exactly_the_profile_of_values_added_one_by_one()
    {
        var random = new Random(4);
        var values = Enumerable.Range(0, 300_000).Select(_ => Math.Round(random.NextDouble() * 1000, 3) - 100).ToArray();
        var reference = new Histogram([-50, 0, 100, 500], [0.1, 0.2, 0.3, 0.2, 0.2]);

        var single = new ColumnProfiler("x", "float", categorical: false, reference, seed: 3);
        foreach (var v in values)
        {
            single.Add(v);
        }

        var runs = new ColumnProfiler("x", "float", categorical: false, reference, seed: 3);
        for (var at = 0; at < values.Length;)
        {
            var n = Math.Min(values.Length - at, random.Next(0, 9_000));
            runs.AddRange(values.AsSpan(at, n));
            at += n;
        }

        var expected = System.Text.Json.JsonSerializer.Serialize(single.Build());
        Assert.Equal(expected, System.Text.Json.JsonSerializer.Serialize(runs.Build()));
        Assert.Equal(single.ReferenceBinCounts, runs.ReferenceBinCounts);
    }

    [Fact]
    public void The_same_values_give_the_same_profile()
    {
        ColumnProfile Run()
        {
            var profiler = new ColumnProfiler("x", "float", categorical: false, reference: null, seed: 5);
            for (var i = 0; i < 100_000; i++)
            {
                profiler.Add((i * 7919) % 100_003);
            }

            return profiler.Build();
        }

        Assert.Equal(Run().Quantiles, Run().Quantiles);
    }
}
