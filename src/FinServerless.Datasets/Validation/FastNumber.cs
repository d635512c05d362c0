using System.Globalization;

namespace FinServerless.Datasets.Validation;

/// <summary>
/// Number parsing for the hot path. Plain decimals ([-]digits[.digits] whose digits read as an integer below
/// 2^53) are parsed exactly with one integer accumulation and one division by a power of ten (both exact, so
/// the result is correctly rounded); anything else falls back to the runtime's parser. It also says whether the
/// text is already in canonical form (what <see cref="double.ToString()"/> would print), so writers can copy
/// the bytes instead of formatting the number again.
/// </summary>
public static class FastNumber
{
    private static readonly double[] PowersOf10 =
    [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ];

    /// <summary>Parses a number; <paramref name="canonical"/> says whether the text is already its canonical form.</summary>
    public static bool TryParseDouble(ReadOnlySpan<byte> text, byte decimalSeparator, NumberFormatInfo fallback, out double value, out bool canonical)
    {
        canonical = false;
        var i = 0;
        var negative = false;
        if (text.Length > 0 && text[0] == (byte)'-')
        {
            negative = true;
            i = 1;
        }

        // All digits, integer and fraction, accumulate into one integer (at most 19 digits cannot overflow).
        ulong mantissa = 0;
        var intStart = i;
        uint digit;
        while (i < text.Length && (digit = (uint)(text[i] - '0')) <= 9)
        {
            mantissa = (mantissa * 10) + digit;
            i++;
        }

        var intDigits = i - intStart;
        var fracDigits = 0;
        if (i < text.Length && text[i] == decimalSeparator)
        {
            var fracStart = ++i;
            while (i < text.Length && (digit = (uint)(text[i] - '0')) <= 9)
            {
                mantissa = (mantissa * 10) + digit;
                i++;
            }

            fracDigits = i - fracStart;
            if (fracDigits == 0)
            {
                return Fallback(text, fallback, out value);
            }
        }

        // An integer below 2^53 and a power of ten up to 10^22 are both exact doubles, so one division gives the
        // correctly rounded result (Clinger's fast path); anything else goes to the runtime's parser.
        if (i != text.Length || intDigits + fracDigits is 0 or > 19 || mantissa > (1UL << 53))
        {
            return Fallback(text, fallback, out value);
        }

        value = fracDigits == 0 ? mantissa : mantissa / PowersOf10[fracDigits];
        if (negative)
        {
            value = -value;
        }

        // Canonical: what double.ToString() prints for the value, that is at most 15 significant digits (so no
        // shorter text reads back as the same double), no leading zeros, no trailing fractional zeros, no "-0",
        // and not so small or large that it would be printed with an exponent.
        canonical =
            mantissa < 1_000_000_000_000_000UL
            && intDigits is > 0 and <= 15
            && (intDigits == 1 || text[intStart] != (byte)'0')
            && (fracDigits == 0 || text[^1] != (byte)'0')
            && !(negative && mantissa == 0)
            && !(fracDigits > 0 && intDigits == 1 && text[intStart] == (byte)'0' && Math.Abs(value) < 1e-4)
            && decimalSeparator == (byte)'.';
        return true;
    }

    /// <summary>Parses an integer; <paramref name="canonical"/> says whether the text is already its canonical form.</summary>
    public static bool TryParseLong(ReadOnlySpan<byte> text, out long value, out bool canonical)
    {
        canonical = false;
        var i = 0;
        var negative = false;
        if (text.Length > 0 && text[0] == (byte)'-')
        {
            negative = true;
            i = 1;
        }

        if (text.Length - i is 0 or > 18)
        {
            return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
        }

        long v = 0;
        for (var k = i; k < text.Length; k++)
        {
            var d = (uint)(text[k] - '0');
            if (d > 9)
            {
                return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
            }

            v = (v * 10) + d;
        }

        value = negative ? -v : v;
        canonical = (text.Length - i == 1 || text[i] != (byte)'0') && !(negative && v == 0);
        return true;
    }

    /// <summary>Parses an invariant number ('.' separator).</summary>
    public static bool TryParseDouble(ReadOnlySpan<byte> text, out double value) =>
        TryParseDouble(text, (byte)'.', NumberFormatInfo.InvariantInfo, out value, out _);

    private static bool Fallback(ReadOnlySpan<byte> text, NumberFormatInfo format, out double value) =>
        double.TryParse(text, NumberStyles.Float, format, out value) && double.IsFinite(value);
}
