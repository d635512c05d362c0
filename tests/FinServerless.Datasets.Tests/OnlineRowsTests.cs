using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Validation;
using FinServerless.Native;

namespace FinServerless.Datasets.Tests;

/// <summary>Rows of one request normalized by the contract, with ingest's own code.</summary>
public sealed class OnlineRowsTests
{
    private static DatasetContract GiveMeSomeCredit => DatasetContract.Load(Path.Combine(RepositoryLayout.Root, "samples", "give-me-some-credit", "contract.json"));

    private static Dictionary<string, string?> Applicant(string pastDue) => new()
    {
        ["RevolvingUtilizationOfUnsecuredLines"] = "0.76",
        ["age"] = "45",
        ["NumberOfTime30-59DaysPastDueNotWorse"] = pastDue,
        ["DebtRatio"] = "0.80",
        ["MonthlyIncome"] = "NA",
        ["NumberOfOpenCreditLinesAndLoans"] = "13",
        ["NumberOfTimes90DaysLate"] = "0",
        ["NumberRealEstateLoansOrLines"] = "6",
        ["NumberOfTime60-89DaysPastDueNotWorse"] = "0",
        ["NumberOfDependents"] = "2",
    };

    [Fact]
    public void Sentinels_and_missing_tokens_become_missing_as_in_ingest_and_the_target_and_id_may_be_absent()
    {
        var (rows, failures) = new OnlineRows(GiveMeSomeCredit).Normalize([Applicant("98"), Applicant("2")]);

        Assert.Empty(failures);
        Assert.Equal(string.Empty, rows[0]["NumberOfTime30-59DaysPastDueNotWorse"]); // 98 means "missing" in this contract
        Assert.Equal("2", rows[1]["NumberOfTime30-59DaysPastDueNotWorse"]);
        Assert.Equal(string.Empty, rows[0]["MonthlyIncome"]); // "NA", a missing token
        Assert.Equal(string.Empty, rows[0]["id"]);
    }

    [Fact]
    public void A_value_ingest_would_quarantine_is_a_failure_naming_row_column_and_rule_but_not_the_value()
    {
        var bad = Applicant("0");
        bad["age"] = "131";
        bad["DebtRatio"] = "lots";

        var (rows, failures) = new OnlineRows(GiveMeSomeCredit).Normalize([Applicant("0"), bad]);

        Assert.Empty(rows);
        Assert.Contains(failures, f => f is { Row: 2, Column: "age", Rule: Rules.Max });
        Assert.Contains(failures, f => f is { Row: 2, Column: "DebtRatio", Rule: Rules.Type });
        Assert.DoesNotContain(failures, f => f.Detail.Contains("131", StringComparison.Ordinal) || f.Detail.Contains("lots", StringComparison.Ordinal));
    }

    [Fact]
    public void Values_with_commas_quotes_and_newlines_are_cells_not_structure()
    {
        var row = Applicant("0");
        row["age"] = "4\"5,\n6";

        var (_, failures) = new OnlineRows(GiveMeSomeCredit).Normalize([row]);

        Assert.Equal("age", Assert.Single(failures).Column);
    }
}
