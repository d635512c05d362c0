using FinServerless.DevHost;

namespace FinServerless.Functions.Tests;

public sealed class NcrontabTests
{
    [Theory]
    [InlineData("0 0 2 * * *", "2026-11-22T10:00:00", "2026-11-23T02:00:00")]
    [InlineData("*/15 * * * * *", "2026-11-22T10:00:07", "2026-11-22T10:00:15")]
    [InlineData("0 30 9 * * 1-5", "2026-11-21T12:00:00", "2026-11-23T09:30:00")] // Saturday → Monday
    [InlineData("0 0 0 1 1 *", "2026-11-22T00:00:00", "2027-01-01T00:00:00")]
    public void Next_occurrence(string schedule, string after, string expected) =>
        Assert.Equal(DateTime.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), Ncrontab.Parse(schedule).Next(DateTime.SpecifyKind(DateTime.Parse(after, System.Globalization.CultureInfo.InvariantCulture), DateTimeKind.Utc)));

    [Theory]
    [InlineData("0 0 2 * *")]
    [InlineData("0 61 * * * *")]
    public void Bad_schedules_are_refused_naming_the_schedule(string schedule) =>
        Assert.Contains(schedule, Assert.Throws<FormatException>(() => Ncrontab.Parse(schedule)).Message);
}
