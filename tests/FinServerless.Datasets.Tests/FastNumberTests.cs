using System.Globalization;
using System.Text;
using FinServerless.Datasets.Validation;

namespace FinServerless.Datasets.Tests;

public sealed class FastNumberTests
{
    private static IEnumerable<string> Numbers()
    {
        string[] fixedCases =
        [
            "0", "-0", "0.0", "00", "007", "1", "-1", "1.5", "1.50", "0.0001", "0.00009", "0.00012", "0.000012", "123456789012345",
            "1234567890123456", "999999999999999.9", "9007199254740992", "9007199254740993", "0.1", "0.30000000000000004",
            "1e3", "1.", ".5", "-", "", "NA", "12a", "1,5", "0.766126609", "5109", "-12.75", "1000000000000000", "99999999999999999999",
        ];
        foreach (var s in fixedCases)
        {
            yield return s;
        }

        var random = new Random(21);
        for (var i = 0; i < 200_000; i++)
        {
            var sb = new StringBuilder();
            if (random.Next(5) == 0)
            {
                sb.Append('-');
            }

            sb.Append(random.Next(4) == 0 ? "0" : random.NextInt64(0, (long)Math.Pow(10, random.Next(1, 18))).ToString(CultureInfo.InvariantCulture));
            if (random.Next(3) > 0)
            {
                sb.Append('.');
                var zeros = random.Next(6) == 0 ? random.Next(1, 7) : 0;
                sb.Append('0', zeros);
                sb.Append(random.NextInt64(0, (long)Math.Pow(10, random.Next(1, 17))).ToString(CultureInfo.InvariantCulture));
            }

            yield return sb.ToString();
        }
    }

    [Fact]
    public void Parses_as_the_runtime_does_and_calls_text_canonical_only_when_it_prints_back_the_same()
    {
        var canonicalSeen = 0;
        foreach (var text in Numbers())
        {
            var bytes = Encoding.ASCII.GetBytes(text);
            var expectedOk = double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var expected) && double.IsFinite(expected);
            var ok = FastNumber.TryParseDouble(bytes, (byte)'.', NumberFormatInfo.InvariantInfo, out var value, out var canonical);

            Assert.True(expectedOk == ok, $"'{text}': parsed {ok}, the runtime says {expectedOk}");
            if (!ok)
            {
                continue;
            }

            Assert.True(BitConverter.DoubleToInt64Bits(expected) == BitConverter.DoubleToInt64Bits(value), $"'{text}': {value:R} but the runtime reads {expected:R}");
            if (canonical)
            {
                canonicalSeen++;
                Assert.Equal(text, value.ToString(CultureInfo.InvariantCulture));
            }
        }

        Assert.True(canonicalSeen > 50_000);
    }

    [Fact]
    public void Integers_parse_as_the_runtime_does_and_canonical_means_printed_the_same()
    {
        foreach (var text in new[] { "0", "-0", "007", "42", "-42", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "", "-", "1.0", "+5", "12345678901234567890" })
        {
            var expectedOk = long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var expected);
            var ok = FastNumber.TryParseLong(Encoding.ASCII.GetBytes(text), out var value, out var canonical);

            Assert.True(expectedOk == ok, text);
            if (ok)
            {
                Assert.Equal(expected, value);
                Assert.True(!canonical || value.ToString(CultureInfo.InvariantCulture) == text, text);
            }
        }
    }
}
