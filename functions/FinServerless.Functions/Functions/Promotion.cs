using FinServerless.Contracts;
using System.Globalization;
using FinServerless.Training;

namespace FinServerless.Functions.Functions;

/// <summary>
/// The promotion decision, with both scores on the same held-out rows; <paramref name="BelowMinimum"/> names the
/// promotion minimum those rows missed, if any (then no promotion). The candidate's AUC is null only when they lack a class.
/// </summary>
public sealed record PromotionDecision(
    string Model, string Version, double? CandidateAuc, string? ChampionVersion, double? ChampionAuc, double Margin, bool Promote, string Reason, long EvaluationRows,
    long? EvaluationPositives = null, MinimumNotMet? BelowMinimum = null);

/// <summary>
/// Decides a promotion from the trainer's typed result alone: the candidate and the champion it scored on the same
/// held-out rows, the champion now, the margin and the promotion minimums. No data is read to decide.
/// </summary>
public static class Promotion
{
    /// <summary>Differences closer to the margin than this count as equal to it (AUCs are sums of float comparisons).</summary>
    private const double Tolerance = 1e-12;

    /// <summary>
    /// The decision for candidate <paramref name="model"/>@<paramref name="version"/>: below a promotion minimum, never;
    /// with no champion, always; when the champion changed while the job ran, not (the comparison is with another
    /// model); when the champion could not score the rows, the candidate replaces it; otherwise when the candidate's
    /// AUC exceeds the champion's by at least <paramref name="margin"/> (a gain equal to the margin wins).
    /// </summary>
    public static PromotionDecision Decide(string model, string version, HeldOutComparison held, string? currentChampion, double margin, DataMinimums minimums, string heldOutSource)
    {
        PromotionDecision Decision(bool promote, string reason, MinimumNotMet? below = null) =>
            new(model, version, held.CandidateAuc, held.ChampionVersion, held.ChampionAuc, margin, promote, reason, held.Rows, held.Positives, below);

        if (minimums.Check(held.Rows, held.Positives, heldOutSource) is { } missed)
        {
            return Decision(false, $"not promoted: {missed.Reason}; {(currentChampion is null ? "there is still no champion" : $"the champion stays {currentChampion}")}", missed);
        }

        if (currentChampion is null)
        {
            return Decision(true, "no champion yet: the first candidate becomes champion");
        }

        if (held.ChampionVersion != currentChampion)
        {
            return Decision(false, $"not promoted: the champion became {currentChampion} while the job ran, and the job compared the candidate with {held.ChampionVersion ?? "no champion"}; train again to compare with {currentChampion}");
        }

        if (held.CandidateAuc is not { } candidate)
        {
            return Decision(false, $"not promoted: the candidate has no AUC on the held-out rows; the champion stays {currentChampion}");
        }

        if (held.ChampionAuc is not { } champion)
        {
            return Decision(true, $"{held.ChampionNote ?? $"the champion {currentChampion} could not score the held-out rows"}; the candidate replaces it");
        }

        var promote = candidate - champion >= margin - Tolerance;
        return Decision(promote, string.Create(CultureInfo.InvariantCulture,
            $"candidate AUC {candidate:0.0000} vs champion {currentChampion} {champion:0.0000} on the same {held.Rows:N0} held-out rows: {(promote ? "wins" : "does not win")} by the margin {margin}"));
    }
}
