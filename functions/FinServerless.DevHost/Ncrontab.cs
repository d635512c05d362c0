namespace FinServerless.DevHost;

/// <summary>A six-field NCRONTAB schedule (second minute hour day month day-of-week) as timer triggers use.</summary>
public sealed class Ncrontab
{
    private readonly bool[][] _fields;

    private Ncrontab(bool[][] fields, string text)
    {
        _fields = fields;
        Text = text;
    }

    /// <summary>The expression.</summary>
    public string Text { get; }

    /// <summary>Parses "*", numbers, lists (a,b), ranges (a-b) and steps (*/n, a-b/n) per field.</summary>
    public static Ncrontab Parse(string text)
    {
        var parts = text.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length != 6)
        {
            throw new FormatException($"Schedule '{text}' must have six fields (second minute hour day month day-of-week), for example \"0 0 2 * * *\".");
        }

        (int Min, int Max)[] ranges = [(0, 59), (0, 59), (0, 23), (1, 31), (1, 12), (0, 6)];
        return new Ncrontab(parts.Select((p, i) => Field(p, ranges[i].Min, ranges[i].Max, text)).ToArray(), text);
    }

    /// <summary>The first occurrence strictly after <paramref name="after"/> (UTC).</summary>
    public DateTime Next(DateTime after)
    {
        var t = new DateTime(after.Year, after.Month, after.Day, after.Hour, after.Minute, after.Second, DateTimeKind.Utc).AddSeconds(1);
        var limit = t.AddYears(5);
        while (t < limit)
        {
            if (!_fields[4][t.Month])
            {
                t = new DateTime(t.Year, t.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(1);
            }
            else if (!_fields[3][t.Day] || !_fields[5][(int)t.DayOfWeek])
            {
                t = t.Date.AddDays(1);
            }
            else if (!_fields[2][t.Hour])
            {
                t = t.Date.AddHours(t.Hour + 1);
            }
            else if (!_fields[1][t.Minute])
            {
                t = t.Date.AddHours(t.Hour).AddMinutes(t.Minute + 1);
            }
            else if (!_fields[0][t.Second])
            {
                t = t.AddSeconds(1);
            }
            else
            {
                return t;
            }
        }

        throw new InvalidOperationException($"Schedule '{Text}' never fires.");
    }

    private static bool[] Field(string field, int min, int max, string text)
    {
        var allowed = new bool[max + 1];
        foreach (var item in field.Split(','))
        {
            var (range, step) = item.Split('/') is [var r, var s] ? (r, int.Parse(s, System.Globalization.CultureInfo.InvariantCulture)) : (item, 1);
            var (from, to) = range == "*" ? (min, max)
                : range.Split('-') is [var a, var b] ? (int.Parse(a, System.Globalization.CultureInfo.InvariantCulture), int.Parse(b, System.Globalization.CultureInfo.InvariantCulture))
                : (int.Parse(range, System.Globalization.CultureInfo.InvariantCulture), int.Parse(range, System.Globalization.CultureInfo.InvariantCulture));
            if (from < min || to > max || from > to || step < 1)
            {
                throw new FormatException($"Schedule '{text}': '{item}' is outside {min}-{max}.");
            }

            for (var v = from; v <= to; v += step)
            {
                allowed[v] = true;
            }
        }

        return allowed;
    }
}
