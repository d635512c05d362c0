using System.Globalization;

namespace FinServerless.Datasets.Contracts;

/// <summary>Semantic checks a JSON Schema cannot express, each with the column and the fix.</summary>
internal static class ContractChecks
{
    private static readonly HashSet<string> Imputations = ["none", "mean", "median", "constant", "zero"];
    private static readonly HashSet<string> Scalings = ["none", "standard", "minmax"];
    private static readonly HashSet<string> Encodings = ["none", "ordinal", "monthsSince"];

    public static void Check(DatasetContract c, string source)
    {
        void Fail(string problem) => throw new ContractException(source, problem);

        if (string.IsNullOrWhiteSpace(c.ContractVersion))
        {
            Fail("'contractVersion' is empty; give the contract a version such as \"1.0.0\".");
        }

        foreach (var (kind, value, field) in new[] { (FinServerless.Contracts.NameKind.Partner, c.Partner, "partner"), (FinServerless.Contracts.NameKind.Dataset, c.Dataset, "dataset") })
        {
            if (!FinServerless.Contracts.StorageName.TryParse(kind, value, out _, out var reason))
            {
                Fail($"'{field}' is not a valid {field} name: {reason}. It becomes part of storage paths.");
            }
        }

        if (c.Columns.Count == 0)
        {
            Fail("'columns' is empty; list at least one column.");
        }

        if (c.File.Delimiter.Length != 1 || c.File.Delimiter is "\"" or "\n" or "\r")
        {
            Fail($"file.delimiter '{c.File.Delimiter}' must be a single character other than a quote or a newline.");
        }

        if (!string.Equals(c.File.Encoding, "utf-8", StringComparison.OrdinalIgnoreCase))
        {
            Fail($"file.encoding '{c.File.Encoding}' is not supported; partners must send UTF-8.");
        }

        if (c.File.DecimalSeparator is not ("." or ","))
        {
            Fail($"file.decimalSeparator '{c.File.DecimalSeparator}' must be '.' or ','.");
        }

        if (c.File.DecimalSeparator == c.File.Delimiter)
        {
            Fail("file.decimalSeparator and file.delimiter are the same character.");
        }

        if (c.File.Compression is not ("auto" or "gzip" or "none"))
        {
            Fail($"file.compression '{c.File.Compression}' must be auto, gzip or none.");
        }

        if (c.File.MaxLineBytes < 64)
        {
            Fail($"file.maxLineBytes {c.File.MaxLineBytes} is too small.");
        }

        if (c.Rules.MaxRejectedShare is < 0 or > 1)
        {
            Fail($"rules.maxRejectedShare {c.Rules.MaxRejectedShare} must be between 0 and 1.");
        }

        if (c.Columns.Count(x => x.Role == ColumnRole.Target) > 1)
        {
            Fail("only one column may have role 'target'.");
        }

        var names = new HashSet<string>(StringComparer.Ordinal);
        var outputs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var col in c.Columns)
        {
            var where = $"column '{col.Name}'";
            if (!names.Add(col.Name))
            {
                Fail($"{where} is listed twice.");
            }

            if (string.IsNullOrEmpty(col.EffectiveOutputName))
            {
                Fail("a column with an empty name (an unnamed column in the file) needs an 'outputName'.");
            }

            if (!outputs.Add(col.EffectiveOutputName))
            {
                Fail($"{where}: output name '{col.EffectiveOutputName}' is used twice.");
            }

            if (col.Min is { } min && col.Max is { } max && min > max)
            {
                Fail($"{where}: min {min} is greater than max {max}.");
            }

            if ((col.Min is not null || col.Max is not null) && col.Type is not (ColumnType.Integer or ColumnType.Decimal or ColumnType.Float))
            {
                Fail($"{where}: min/max apply to numeric columns, not {col.Type}.");
            }

            if (col.Type == ColumnType.Category && col.Allowed is { Count: 0 })
            {
                Fail($"{where}: 'allowed' is empty; list the values, or leave 'allowed' out for an open category column (its most frequent values encoded by each model).");
            }

            if (col.TopCategories is { } top && (top is < 1 or > 1000 || !col.IsOpenCategory))
            {
                Fail($"{where}: topCategories {top} applies to an open category column (type category without 'allowed') and must be from 1 to 1000.");
            }

            if (col.IsOpenCategory && col.Normalize?.Encode == "ordinal")
            {
                Fail($"{where}: normalize.encode 'ordinal' needs the 'allowed' values (their order is the code); an open category column is encoded by each model from its most frequent values.");
            }

            if (col.ReasonText is { } text && (text.Length is 0 or > 200 || text.Any(char.IsControl)))
            {
                Fail($"{where}: reasonText must be 1 to 200 characters without control characters.");
            }

            if (col.TargetValues is { } tv)
            {
                if (col.Role != ColumnRole.Target)
                {
                    Fail($"{where}: targetValues applies to the column with role 'target'.");
                }

                if (col.Type is not (ColumnType.Category or ColumnType.String or ColumnType.Integer))
                {
                    Fail($"{where}: targetValues maps the values of a category, string or integer column, not {col.Type}.");
                }

                if (tv.Positive.Count == 0 || tv.Negative.Count == 0)
                {
                    Fail($"{where}: targetValues needs at least one 'positive' (default) and one 'negative' (no default) value.");
                }

                var seen = new HashSet<string>(StringComparer.Ordinal);
                foreach (var value in tv.Positive.Concat(tv.Negative).Concat(tv.Drop))
                {
                    if (!seen.Add(value))
                    {
                        Fail($"{where}: targetValues lists '{value}' more than once; each value is positive, negative or dropped.");
                    }
                }

                if (col.Allowed is { } allowedValues && seen.FirstOrDefault(v => !allowedValues.Contains(v)) is { } unknown)
                {
                    Fail($"{where}: targetValues lists '{unknown}', which is not among its 'allowed' values.");
                }
            }

            if (col.Type == ColumnType.Integer && col.Allowed is not null)
            {
                foreach (var a in col.Allowed)
                {
                    if (!long.TryParse(a, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _))
                    {
                        Fail($"{where}: allowed value '{a}' is not an integer.");
                    }
                }
            }

            if (col.Type == ColumnType.Date && col.Format is { } format)
            {
                try
                {
                    _ = new DateTime(2000, 1, 2).ToString(format, CultureInfo.InvariantCulture);
                }
                catch (FormatException)
                {
                    Fail($"{where}: date format '{format}' is not a valid .NET date format.");
                }
            }

            if (col.Normalize is { } n)
            {
                if (!Imputations.Contains(n.Impute))
                {
                    Fail($"{where}: normalize.impute '{n.Impute}' must be one of {string.Join(", ", Imputations)}.");
                }

                if (!Scalings.Contains(n.Scale))
                {
                    Fail($"{where}: normalize.scale '{n.Scale}' must be one of {string.Join(", ", Scalings)}.");
                }

                if (!Encodings.Contains(n.Encode))
                {
                    Fail($"{where}: normalize.encode '{n.Encode}' must be one of {string.Join(", ", Encodings)}.");
                }

                if (n.Impute == "constant" && n.ImputeValue is null)
                {
                    Fail($"{where}: normalize.impute 'constant' needs 'imputeValue'.");
                }

                if ((n.Impute is "mean" && n.Reference?.Mean is null) || (n.Impute is "median" && n.Reference?.Median is null))
                {
                    Fail($"{where}: normalize.impute '{n.Impute}' needs reference.{n.Impute}.");
                }

                if (n.Scale == "standard" && (n.Reference?.Mean is null || n.Reference?.Std is not > 0))
                {
                    Fail($"{where}: normalize.scale 'standard' needs reference.mean and a positive reference.std.");
                }

                if (n.Scale == "minmax" && (n.Reference?.Min is not { } lo || n.Reference?.Max is not { } hi || hi <= lo))
                {
                    Fail($"{where}: normalize.scale 'minmax' needs reference.min < reference.max.");
                }

                if (n.Clip is { } clip && (clip.Count != 2 || clip[0] > clip[1]))
                {
                    Fail($"{where}: normalize.clip must be [low, high] with low <= high.");
                }

                if ((n.Impute != "none" || n.Scale != "none" || n.Clip is not null) && col.Type is not (ColumnType.Integer or ColumnType.Decimal or ColumnType.Float or ColumnType.Boolean))
                {
                    Fail($"{where}: impute/clip/scale apply to numeric columns, not {col.Type}.");
                }

                if (n.Encode == "ordinal" && col.Type != ColumnType.Category)
                {
                    Fail($"{where}: normalize.encode 'ordinal' applies to category columns.");
                }

                if (n.Encode == "monthsSince" && (col.Type != ColumnType.Date || !DateOnly.TryParseExact(n.ReferenceDate, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out _)))
                {
                    Fail($"{where}: normalize.encode 'monthsSince' applies to date columns and needs normalize.referenceDate as yyyy-MM-dd (the date months are counted to).");
                }

                if (n.Encode == "monthsSince" && col.Sentinels?.Values.Any(m => m == SentinelMeaning.Special) == true)
                {
                    Fail($"{where}: a date encoded as monthsSince is a number of months; its sentinels can only mean 'missing', not 'special'.");
                }

                if (n.ReferenceDate is not null && n.Encode != "monthsSince")
                {
                    Fail($"{where}: normalize.referenceDate is used only with encode 'monthsSince'.");
                }
            }
        }

        if (!c.File.Header && c.Columns.Any(col => col.Name.Length == 0))
        {
            Fail("a file without a header cannot have unnamed columns; columns are matched by position.");
        }
    }
}
