using System.Text.Json;
using System.Text.Json.Serialization;
using FinServerless.Contracts;
using FinServerless.Datasets.Profiling;

namespace FinServerless.Datasets.Ingest;

/// <summary>A file's location and fingerprint.</summary>
public sealed record InputFile(string Path, string Sha256, long Bytes);

/// <summary>One written part of a run.</summary>
public sealed record RunPart(string Path, long Rows, long Bytes, string Sha256);

/// <summary>Row counts of a run.</summary>
public sealed record RowCounts(long Read, long Accepted, long Rejected);

/// <summary>
/// The commit record of a curated run, written last (create-only): a run without it does not exist.
/// Names its input by path and SHA-256, its contract, its code version, parts with their SHA-256, profile and drift.
/// </summary>
public sealed record RunManifest
{
    /// <summary>Always "curated-run".</summary>
    public string Kind { get; init; } = "curated-run";

    /// <summary>Manifest format version.</summary>
    public int SchemaVersion { get; init; } = 1;

    /// <summary>Run id (derived from the input blob and its ETag, so a redelivered event maps to the same run).</summary>
    public required string RunId { get; init; }

    /// <summary>Partner.</summary>
    public required string Partner { get; init; }

    /// <summary>Dataset.</summary>
    public required string Dataset { get; init; }

    /// <summary>Partner, dataset and run id as validated names (a manifest read back is checked like any input).</summary>
    [JsonIgnore]
    public (StorageName Partner, StorageName Dataset, StorageName Run) Names =>
        (StorageName.Partner(Partner, "manifest partner"), StorageName.Dataset(Dataset, "manifest dataset"), StorageName.Run(RunId, "manifest runId"));

    /// <summary>
    /// The path of part <paramref name="index"/>, which must be the run's own <c>curated/{partner}/{dataset}/{run}/part-NNNNN.csv</c>:
    /// a manifest cannot send a reader anywhere else.
    /// </summary>
    public string PartPath(int index)
    {
        var (partner, dataset, run) = Names;
        var expected = StorageLayout.CuratedRun(partner, dataset, run) + StorageLayout.Part(index);
        return Parts[index].Path == expected
            ? expected
            : throw new InvalidDataException($"Run {RunId}: part {index + 1} is recorded at {StorageName.Quote(Parts[index].Path)}, not at {expected}; a run's parts live under its own prefix.");
    }

    /// <summary>When the run was committed.</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>The input file.</summary>
    public required InputFile Input { get; init; }

    /// <summary>Contract version and fingerprint.</summary>
    public required ContractRef Contract { get; init; }

    /// <summary>Version of the code that produced the run.</summary>
    public required string CodeVersion { get; init; }

    /// <summary>Row counts.</summary>
    public required RowCounts Rows { get; init; }

    /// <summary>Output columns, in order.</summary>
    public required IReadOnlyList<string> Columns { get; init; }

    /// <summary>Output columns with role id (carried into scores).</summary>
    public IReadOnlyList<string> IdColumns { get; init; } = [];

    /// <summary>Output column with role target, if any.</summary>
    public string? TargetColumn { get; init; }

    /// <summary>
    /// What the contract says of each feature column that models carry on: its reason text, whether it is protected
    /// (never a reason), and whether it is an open category (text a model encodes). Empty in runs curated before.
    /// </summary>
    public IReadOnlyList<FeatureColumn> Features { get; init; } = [];

    /// <summary>Parts, in order.</summary>
    public required IReadOnlyList<RunPart> Parts { get; init; }

    /// <summary>File columns not in the contract, dropped: their count and positions (never their names, which are the file's text).</summary>
    public Validation.ExtraColumns ExtraColumns { get; init; } = Validation.ExtraColumns.None;

    /// <summary>
    /// Per output column, curated cells written with a leading apostrophe because a spreadsheet would run them as
    /// formulas (string values starting with =, +, -, @, tab or CR); columns without any are left out.
    /// </summary>
    public IReadOnlyDictionary<string, long> FormulaCellsNeutralized { get; init; } = new Dictionary<string, long>();

    /// <summary>Blank and repeated ids per id column of the accepted rows (counts only).</summary>
    public IReadOnlyList<IdColumnCheck> IdChecks { get; init; } = [];

    /// <summary>What a reader of the run should know that did not stop it (for example ids blank or repeated in the file).</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Where the rejected rows are, when there are any.</summary>
    public string? QuarantineReport { get; init; }

    /// <summary>Profile of accepted rows.</summary>
    public required DatasetProfile Profile { get; init; }

    /// <summary>Drift against the reference profile, when one was given.</summary>
    public DriftReport? Drift { get; init; }

    /// <summary>JSON settings for manifests and reports.</summary>
    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };
}

/// <summary>A feature column of a curated run as models see it (see <see cref="RunManifest.Features"/>).</summary>
/// <param name="Name">The curated column.</param>
public sealed record FeatureColumn(string Name)
{
    /// <summary>The contract's adverse-action text for the column, when it gives one.</summary>
    public string? ReasonText { get; init; }

    /// <summary>A protected characteristic: never a reason.</summary>
    public bool Protected { get; init; }

    /// <summary>Personal data: its values never leave the curated rows (a model may not list them).</summary>
    public bool Pii { get; init; }

    /// <summary>For an open category column: how many of its most frequent values a model encodes (the rest are "other"); null for numbers.</summary>
    public int? TopCategories { get; init; }

    /// <summary>The feature columns of a contract (role feature, in output order).</summary>
    public static IReadOnlyList<FeatureColumn> From(Contracts.DatasetContract contract) =>
        [.. contract.Columns.Where(c => c.Role == Contracts.ColumnRole.Feature).Select(c => new FeatureColumn(c.EffectiveOutputName)
        {
            ReasonText = c.ReasonText,
            Protected = c.Protected,
            Pii = c.Pii,
            TopCategories = c.IsOpenCategory ? c.TopCategories ?? Contracts.ColumnSpec.DefaultTopCategories : null,
        })];
}

/// <summary>The contract a run was validated against.</summary>
public sealed record ContractRef(string Version, string Sha256, string? Path);

/// <summary>Drift of every feature against a reference profile.</summary>
public sealed record DriftReport(string Reference, IReadOnlyList<FeatureDrift> Features)
{
    /// <summary>The worst band among the features.</summary>
    public string WorstBand => Features.Count == 0 ? "stable" : Drift.Band(Features.Max(f => f.Psi));
}
