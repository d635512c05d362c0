using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace FinServerless.Datasets.Contracts;

/// <summary>
/// What a partner's file must look like and how it is normalized: columns (by name, any order), file options,
/// file rules. Stored at <c>contracts/{partner}/{dataset}.json</c>; its JSON Schema is dataset-contract.schema.json.
/// </summary>
public sealed record DatasetContract
{
    /// <summary>Optional pointer to the JSON Schema (for editors); ignored.</summary>
    [JsonPropertyName("$schema")]
    public string? Schema { get; init; }

    /// <summary>Version of this contract, recorded in every manifest (for example "1.2.0").</summary>
    public required string ContractVersion { get; init; }

    /// <summary>Partner the contract belongs to.</summary>
    public required string Partner { get; init; }

    /// <summary>Dataset name (the folder under the partner's inbox).</summary>
    public required string Dataset { get; init; }

    /// <summary>The partner as a validated name (checked when the contract is parsed).</summary>
    [JsonIgnore]
    public FinServerless.Contracts.StorageName PartnerName => FinServerless.Contracts.StorageName.Partner(Partner, "partner");

    /// <summary>The dataset as a validated name (checked when the contract is parsed).</summary>
    [JsonIgnore]
    public FinServerless.Contracts.StorageName DatasetName => FinServerless.Contracts.StorageName.Dataset(Dataset, "dataset");

    /// <summary>SHA-256 of the contract's canonical JSON: recorded in manifests and part of every run id, so a changed contract makes a new run.</summary>
    [JsonIgnore]
    public string Sha256 => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(ToJson())));

    /// <summary>How to read the file.</summary>
    public FileSettings File { get; init; } = new();

    /// <summary>When the whole file is rejected.</summary>
    public FileRules Rules { get; init; } = new();

    /// <summary>Cell texts that mean "missing" for every column unless a column overrides them.</summary>
    public IReadOnlyList<string> MissingTokens { get; init; } = ["", "NA", "N/A", "NULL", "null", "NaN"];

    /// <summary>The columns, in canonical (output) order.</summary>
    public required IReadOnlyList<ColumnSpec> Columns { get; init; }

    /// <summary>Serializer settings for contracts: camelCase, enums as strings, unknown properties refused.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.CamelCase, allowIntegerValues: false) },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Parses and checks a contract; <paramref name="source"/> names it in errors.</summary>
    public static DatasetContract Parse(ReadOnlySpan<byte> json, string source)
    {
        DatasetContract? contract;
        try
        {
            contract = JsonSerializer.Deserialize<DatasetContract>(json, JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new ContractException(source, $"{Clean(ex.Message)} (at {ex.Path ?? "$"}, line {(ex.LineNumber ?? 0) + 1})", ex);
        }

        if (contract is null)
        {
            throw new ContractException(source, "the file is empty or 'null'; expected a JSON object with contractVersion, partner, dataset and columns.");
        }

        ContractChecks.Check(contract, source);
        return contract;
    }

    /// <summary>Reads a contract file.</summary>
    public static DatasetContract Load(string path) => Parse(System.IO.File.ReadAllBytes(path), path);

    /// <summary>The contract as JSON.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    private static string Clean(string message)
    {
        var i = message.IndexOf(" Path:", StringComparison.Ordinal);
        return i > 0 ? message[..i] : message;
    }
}

/// <summary>How a file is read.</summary>
public sealed record FileSettings
{
    /// <summary>Field delimiter (one character).</summary>
    public string Delimiter { get; init; } = ",";

    /// <summary>Whether the first row is a header. Without one, columns are taken in contract order.</summary>
    public bool Header { get; init; } = true;

    /// <summary>Text encoding; only "utf-8" is accepted (UTF-16 files are detected and rejected).</summary>
    public string Encoding { get; init; } = "utf-8";

    /// <summary>Decimal separator in numbers: "." or ",".</summary>
    public string DecimalSeparator { get; init; } = ".";

    /// <summary>"auto" (detect gzip by its magic bytes), "gzip" or "none".</summary>
    public string Compression { get; init; } = "auto";

    /// <summary>Longest physical row accepted, in bytes; a longer one rejects the file.</summary>
    public int MaxLineBytes { get; init; } = 1024 * 1024;
}

/// <summary>Rules that decide whether a file is accepted at all.</summary>
public sealed record FileRules
{
    /// <summary>Fewer data rows than this rejects the file.</summary>
    public long MinRows { get; init; } = 1;

    /// <summary>A larger share of rejected rows than this (0–1) rejects the whole file.</summary>
    public double MaxRejectedShare { get; init; } = 0.05;

    /// <summary>Whether columns not in the contract are tolerated (reported and dropped) or reject the file.</summary>
    public bool AllowExtraColumns { get; init; } = true;
}

/// <summary>Column data types.</summary>
public enum ColumnType
{
    /// <summary>Whole number (64-bit).</summary>
    Integer,
    /// <summary>Exact decimal number (kept as text in canonical form).</summary>
    Decimal,
    /// <summary>Floating-point number.</summary>
    Float,
    /// <summary>true/false, 1/0, yes/no.</summary>
    Boolean,
    /// <summary>Calendar date, ISO yyyy-MM-dd (or the column's format).</summary>
    Date,
    /// <summary>One of a set of codes.</summary>
    Category,
    /// <summary>Free text.</summary>
    String,
}

/// <summary>What a column is for.</summary>
public enum ColumnRole
{
    /// <summary>Identifies the row (kept, never a model input).</summary>
    Id,
    /// <summary>A model input.</summary>
    Feature,
    /// <summary>The label.</summary>
    Target,
    /// <summary>Read and validated, not written out.</summary>
    Ignore,
}

/// <summary>What a sentinel value means.</summary>
public enum SentinelMeaning
{
    /// <summary>The value means "not known": treated as missing.</summary>
    Missing,
    /// <summary>The value is a special code: kept as is, counted, excluded from range checks and statistics.</summary>
    Special,
}

/// <summary>One column of the contract.</summary>
public sealed record ColumnSpec
{
    /// <summary>Header name, matched exactly (case-sensitive). An empty name matches an unnamed column.</summary>
    public required string Name { get; init; }

    /// <summary>Data type.</summary>
    public required ColumnType Type { get; init; }

    /// <summary>Role.</summary>
    public ColumnRole Role { get; init; } = ColumnRole.Feature;

    /// <summary>Name written to curated output (defaults to <see cref="Name"/>; required when the name is empty).</summary>
    public string? OutputName { get; init; }

    /// <summary>Whether the column must be present in the file.</summary>
    public bool Required { get; init; } = true;

    /// <summary>Whether missing values are allowed.</summary>
    public bool Nullable { get; init; } = true;

    /// <summary>Smallest allowed value (numbers) — sentinels excepted.</summary>
    public double? Min { get; init; }

    /// <summary>Largest allowed value (numbers) — sentinels excepted.</summary>
    public double? Max { get; init; }

    /// <summary>Allowed values (categories, or a closed set of integers), as they appear in the file.</summary>
    public IReadOnlyList<string>? Allowed { get; init; }

    /// <summary>Overrides the contract's missing tokens for this column.</summary>
    public IReadOnlyList<string>? MissingTokens { get; init; }

    /// <summary>Values that are codes rather than measurements (for example 96 and 98 in past-due counts).</summary>
    public IReadOnlyDictionary<string, SentinelMeaning>? Sentinels { get; init; }

    /// <summary>Personal data: never written to logs or reports (rejected.csv shows "[pii]").</summary>
    public bool Pii { get; init; }

    /// <summary>Date format for date columns (.NET custom format; default yyyy-MM-dd).</summary>
    public string? Format { get; init; }

    /// <summary>How to normalize the column's values.</summary>
    public ColumnNormalization? Normalize { get; init; }

    /// <summary>
    /// What the column means to a borrower when it is a reason for a decision (the adverse-action text carried by
    /// every model trained on it, for example "Number of recent payment delays"); default: none given.
    /// </summary>
    public string? ReasonText { get; init; }

    /// <summary>A protected characteristic (for example age or marital status): it is never given as a reason for a score.</summary>
    public bool Protected { get; init; }

    /// <summary>
    /// For the target column: which of its values mean default (1), which mean no default (0), and which leave the
    /// row without a label (curated with an empty target: scored, not trained on). Any other value rejects the row.
    /// </summary>
    public TargetValues? TargetValues { get; init; }

    /// <summary>
    /// For an open category column (no <see cref="Allowed"/> list): how many of its most frequent values in the
    /// training rows a model encodes, every other value counting as one "other" value (default 20).
    /// </summary>
    public int? TopCategories { get; init; }

    /// <summary>Whether this is an open category column: any value accepted, kept as text, encoded by each model.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public bool IsOpenCategory => Type == ColumnType.Category && Allowed is null;

    /// <summary>Categories a model encodes for an open category column unless the contract says otherwise.</summary>
    public const int DefaultTopCategories = 20;

    /// <summary>Name used in output.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public string EffectiveOutputName => string.IsNullOrEmpty(OutputName) ? Name : OutputName;
}

/// <summary>How one column is normalized: impute, clip, scale, encode.</summary>
public sealed record ColumnNormalization
{
    /// <summary>"none" (leave missing), "mean", "median", "constant", "zero".</summary>
    public string Impute { get; init; } = "none";

    /// <summary>Value for <c>impute: constant</c>.</summary>
    public double? ImputeValue { get; init; }

    /// <summary>Clip to [low, high] after imputation.</summary>
    public IReadOnlyList<double>? Clip { get; init; }

    /// <summary>"none", "standard" ((x − mean) / std) or "minmax" ((x − min) / (max − min)), from <see cref="Reference"/>.</summary>
    public string Scale { get; init; } = "none";

    /// <summary>
    /// "none"; "ordinal" (categories as their index in Allowed, unknown as -1); "monthsSince" (a date as the whole
    /// months from it to <see cref="ReferenceDate"/>, a number a model can use, e.g. months on book).
    /// </summary>
    public string Encode { get; init; } = "none";

    /// <summary>Reference statistics used by impute and scale.</summary>
    public ReferenceStatistics? Reference { get; init; }

    /// <summary>For <c>encode: monthsSince</c> on a date column: the date (yyyy-MM-dd) the whole months are counted to.</summary>
    public string? ReferenceDate { get; init; }
}

/// <summary>How a target column's values map to the 0/1 label (see <see cref="ColumnSpec.TargetValues"/>).</summary>
public sealed record TargetValues
{
    /// <summary>Values that mean default: label 1.</summary>
    public IReadOnlyList<string> Positive { get; init; } = [];

    /// <summary>Values that mean no default: label 0.</summary>
    public IReadOnlyList<string> Negative { get; init; } = [];

    /// <summary>Values whose outcome is not known yet (for example a loan still current): no label; the row is scored, not trained on.</summary>
    public IReadOnlyList<string> Drop { get; init; } = [];
}

/// <summary>Reference statistics of a column (from a training profile).</summary>
public sealed record ReferenceStatistics
{
    /// <summary>Mean.</summary>
    public double? Mean { get; init; }

    /// <summary>Standard deviation.</summary>
    public double? Std { get; init; }

    /// <summary>Median.</summary>
    public double? Median { get; init; }

    /// <summary>Minimum.</summary>
    public double? Min { get; init; }

    /// <summary>Maximum.</summary>
    public double? Max { get; init; }
}
