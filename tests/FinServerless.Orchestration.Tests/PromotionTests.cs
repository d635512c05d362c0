using FinServerless.Contracts;
using FinServerless.Functions.Functions;
using FinServerless.Training;

namespace FinServerless.Orchestration.Tests;

/// <summary>The promotion rule itself, from the trainer's typed result alone.</summary>
public sealed class PromotionTests
{
    private static PromotionDecision Decide(HeldOutComparison held, string? champion, double margin = 0.002) =>
        Promotion.Decide("m", "v2", held, champion, margin, DataMinimums.DefaultPromotion, "the held-out rows of curated/p/d/r/_manifest.json");

    [Fact]
    public void The_margin_is_a_minimum_gain_and_a_gain_equal_to_it_wins()
    {
        Assert.True(Decide(new(1000, 200, 0.752, "v1", 0.750), "v1").Promote);
        Assert.False(Decide(new(1000, 200, 0.7519, "v1", 0.750), "v1").Promote);
        Assert.False(Decide(new(1000, 200, 0.750, "v1", 0.750), "v1").Promote);
        Assert.True(Decide(new(1000, 200, 0.750, "v1", 0.750), "v1", margin: 0).Promote);
        Assert.False(Decide(new(1000, 200, 0.70, "v1", 0.75), "v1").Promote);
    }

    [Fact]
    public void A_champion_that_could_not_score_the_rows_is_replaced_and_a_candidate_without_an_auc_is_not_promoted()
    {
        var replaced = Decide(new(1000, 200, 0.70, "v1", null, "the champion v1 needs feature(s) 'income' that this run lacks"), "v1");
        Assert.True(replaced.Promote);
        Assert.Equal("the champion v1 needs feature(s) 'income' that this run lacks; the candidate replaces it", replaced.Reason);

        Assert.False(Decide(new(1000, 200, null, "v1", 0.7), "v1").Promote);
    }

    [Fact]
    public void Below_a_promotion_minimum_nothing_is_promoted_even_without_a_champion()
    {
        var decision = Decide(new(1000, 30, 0.9), null);
        Assert.False(decision.Promote);
        Assert.Equal("FINSERVERLESS_PROMOTION_MIN_CLASS_ROWS", decision.BelowMinimum!.Setting);
        Assert.Equal(30, decision.BelowMinimum.Found);
        Assert.EndsWith("there is still no champion", decision.Reason);
    }
}
