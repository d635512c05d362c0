using System.Text.RegularExpressions;
using FinServerless.Contracts;

namespace FinServerless.Contracts.Tests;

/// <summary>The one name type: hostile names are refused, good names resolve only under their prefix.</summary>
public sealed partial class StorageNameTests
{
    private static readonly NameKind[] Kinds = Enum.GetValues<NameKind>();

    /// <summary>Names a hostile partner or caller would try, raw and encoded.</summary>
    public static TheoryData<string> Hostile() =>
    [
        "", ".", "..", "...", "../x", "x/..", "x/../y", "./x", "/x", "x/", "x\\y", "..\\x", "%2e%2e", "%2E%2E", "%2e.", ".%2e",
        "%252e%252e", "x%2fy", "x%5cy", "\u2024\u2024", "\uff0e\uff0e", "x\uff0ey", "a\u0000b", "a\nb", "a\rb", "a\tb",
        "a b", " a", "a ", "a\u200bb", "é", "a:b", "a?b", "a#b", "a*b", "a\"b", "a<b", "a|b", "~a", "-a", "a-", ".a", "a.", "a..b",
        "C:\\x", "\\\\server\\share", new string('a', 201),
    ];

    [Theory]
    [MemberData(nameof(Hostile))]
    public void Hostile_names_are_refused_for_every_kind(string text)
    {
        foreach (var kind in Kinds)
        {
            Assert.False(StorageName.TryParse(kind, text, out _, out var reason), $"{kind} accepted {StorageName.Quote(text)}");
            Assert.NotEmpty(reason);
        }
    }

    [Theory]
    [InlineData(NameKind.Partner, "acme")]
    [InlineData(NameKind.Partner, "bureau-7")]
    [InlineData(NameKind.Dataset, "taiwan-credit")]
    [InlineData(NameKind.Dataset, "Loans_2026")]
    [InlineData(NameKind.File, "2026-11-22.csv.gz")]
    [InlineData(NameKind.File, "model.onnx")]
    [InlineData(NameKind.Model, "taiwan-credit-xgboost")]
    [InlineData(NameKind.Version, "20261202-041930-ab12cd")]
    [InlineData(NameKind.Version, "1.2.0")]
    [InlineData(NameKind.Run, "r0123456789abcdef0123")]
    public void Ordinary_names_are_accepted(NameKind kind, string text) =>
        Assert.Equal(text, StorageName.Parse(kind, text, "field").Value);

    [Theory]
    [InlineData(NameKind.Partner, "Acme")]
    [InlineData(NameKind.Partner, "a--b")]
    [InlineData(NameKind.Partner, "a_b")]
    [InlineData(NameKind.Partner, "a.b")]
    [InlineData(NameKind.Model, "a.b")]
    [InlineData(NameKind.Dataset, "a.b")]
    [InlineData(NameKind.Version, "champion")]
    [InlineData(NameKind.Version, "latest")]
    public void Kind_specific_rules(NameKind kind, string text) =>
        Assert.False(StorageName.TryParse(kind, text, out _, out _));

    [Fact]
    public void The_error_names_the_field_and_the_rule_but_not_control_characters()
    {
        var ex = Assert.Throws<InvalidNameException>(() => StorageName.Model("ev\nil/../x", "rows[3].model"));
        Assert.Equal("rows[3].model", ex.Field);
        Assert.StartsWith("rows[3].model: not a valid model name:", ex.Message, StringComparison.Ordinal);
        Assert.Contains("U+000A", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    /// <summary>
    /// Thousands of generated names over an alphabet rich in separators, dots, encodings and look-alikes: the
    /// type accepts exactly what an independent statement of the rules accepts, and every accepted name,
    /// joined under a prefix and resolved as a URL path (with percent-decoding, as storage endpoints do), stays
    /// under that prefix as one segment.
    /// </summary>
    [Fact]
    public void Generated_names_agree_with_the_rules_and_never_leave_their_prefix()
    {
        const string alphabet = "abcXYZ019.-_/\\%2eEf ~:@?#\u2024\uff0e\u3002\u0000\n\u00e9\u200b";
        var random = new Random(20261202);
        var accepted = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var length = random.Next(0, 12);
            var chars = new char[length];
            for (var j = 0; j < length; j++)
            {
                chars[j] = alphabet[random.Next(alphabet.Length)];
            }

            var text = new string(chars);
            if (random.Next(4) == 0)
            {
                text = Uri.EscapeDataString(text); // percent-encoded variants
            }

            foreach (var kind in Kinds)
            {
                var ok = StorageName.TryParse(kind, text, out var name, out _);
                Assert.True(ok == Oracle(kind, text), $"{kind} {(ok ? "accepted" : "refused")} {StorageName.Quote(text)}");
                if (!ok)
                {
                    continue;
                }

                accepted++;
                var prefix = new Uri("https://account.blob.core.windows.net/models/");
                var resolved = new Uri(prefix, name!.Value + "/manifest.json");
                var decoded = Uri.UnescapeDataString(resolved.AbsolutePath);
                Assert.StartsWith("/models/", decoded, StringComparison.Ordinal);
                Assert.Equal(["", "models", name.Value, "manifest.json"], decoded.Split('/'));
            }
        }

        Assert.True(accepted > 1_000, $"only {accepted} generated names were valid: the generator is too hostile to test acceptance");
    }

    [Fact]
    public void Model_references_parse_both_parts_and_the_champion_alias()
    {
        var exact = ModelReference.Parse("taiwan-xgb@20261202-1");
        Assert.Equal("taiwan-xgb", exact.Model.Value);
        Assert.Equal("20261202-1", exact.Version!.Value);
        Assert.True(ModelReference.Parse("taiwan-xgb@champion").IsChampion);
        foreach (var bad in new[] { "x", "@v", "x@", "x@v@w", "../inbox-acme/m@v", "m@../../inbox-acme/x", "m@%2e%2e", "m@v/x", "inbox-acme/evil@1" })
        {
            var ex = Assert.Throws<InvalidNameException>(() => ModelReference.Parse(bad, "model"));
            Assert.Equal("model", ex.Field);
        }
    }

    [Fact]
    public void Layout_paths_are_built_only_from_names_of_the_right_kind()
    {
        var partner = StorageName.Partner("acme");
        var dataset = StorageName.Dataset("loans");
        var run = StorageName.Run("r1");
        Assert.Equal("curated/acme/loans/r1/_manifest.json", StorageLayout.CuratedManifest(partner, dataset, run));
        Assert.Throws<ArgumentException>(() => StorageLayout.CuratedRun(dataset, partner, run));
        Assert.Equal((partner, dataset, run), StorageLayout.ParseCuratedManifest("curated/acme/loans/r1/_manifest.json"));
        foreach (var bad in new[] { "curated/acme/loans/../../models/m/v/_manifest.json", "models/m/v/_manifest.json", "curated/acme/loans/r1/part-00000.csv", "curated/acme/loans/r1/x/_manifest.json", "/curated/acme/loans/r1/_manifest.json" })
        {
            Assert.Throws<InvalidNameException>(() => StorageLayout.ParseCuratedManifest(bad));
        }
    }

    [Fact]
    public void Inbox_files_parse_container_and_blob_or_fail_naming_the_part()
    {
        var file = InboxFile.Parse("inbox-acme", "loans/2026-11.csv");
        Assert.Equal("inbox-acme/loans/2026-11.csv", file.Path);
        Assert.Throws<InvalidNameException>(() => InboxFile.Parse("inbox-acme", "loans/../../inbox-other/loans/x.csv"));
        Assert.Throws<InvalidNameException>(() => InboxFile.Parse("inbox-acme", "loans/%2e%2e/x.csv"));
        Assert.Throws<InvalidNameException>(() => InboxFile.Parse("curated", "acme/loans/x.csv"));
        Assert.Throws<InvalidNameException>(() => InboxFile.Parse("inbox-acme", "x.csv"));
        Assert.StartsWith("quarantine/_failures/_invalid/", StorageLayout.IngestFailure("inbox-acme", "loans/../x.csv"), StringComparison.Ordinal);
        Assert.Equal("quarantine/_failures/inbox-acme/loans/x.csv.json", StorageLayout.IngestFailure("inbox-acme", "loans/x.csv"));
    }

    /// <summary>The rules, stated independently of the implementation.</summary>
    private static bool Oracle(NameKind kind, string text)
    {
        var pattern = kind switch
        {
            NameKind.Partner => PartnerPattern(),
            NameKind.File => FilePattern(),
            NameKind.Version => VersionPattern(),
            _ => PlainPattern(),
        };
        return pattern.IsMatch(text)
            && !text.Contains("..", StringComparison.Ordinal)
            && !(kind == NameKind.Version && text.ToLowerInvariant() is "champion" or "latest");
    }

    [GeneratedRegex(@"^[a-z0-9](?:[a-z0-9]|-(?!-)){0,39}(?<!-)\z")]
    private static partial Regex PartnerPattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}(?<![.-])\z")]
    private static partial Regex FilePattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}(?<![.-])\z")]
    private static partial Regex VersionPattern();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}(?<!-)\z")]
    private static partial Regex PlainPattern();
}
