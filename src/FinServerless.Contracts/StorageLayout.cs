using System.Security.Cryptography;
using System.Text;

namespace FinServerless.Contracts;

/// <summary>
/// The storage layout of ARCHITECTURE.md §3, built in one place and only from validated names. Paths are
/// <c>{container}/{blob name}</c>; every method takes <see cref="StorageName"/>s of the right kind, so nothing
/// a partner or caller sends can make a path leave its container and prefix.
/// </summary>
public static class StorageLayout
{
    /// <summary>Container holding curated runs.</summary>
    public const string CuratedContainer = "curated";

    /// <summary>Container holding quarantined rows, reports and failure records.</summary>
    public const string QuarantineContainer = "quarantine";

    /// <summary>Container holding dataset contracts.</summary>
    public const string ContractsContainer = "contracts";

    /// <summary>Container holding model versions and champions.</summary>
    public const string ModelsContainer = "models";

    /// <summary>Container holding score runs, score jobs and rescoring summaries.</summary>
    public const string ScoresContainer = "scores";

    /// <summary>Prefix of partner inbox containers.</summary>
    public const string InboxPrefix = "inbox-";

    /// <summary>The file name of a run's manifest, written last.</summary>
    public const string ManifestFile = "_manifest.json";

    /// <summary>The file name of a run's quarantine report.</summary>
    public const string QuarantineReportFile = "report.json";

    /// <summary>The file name of a model's champion record.</summary>
    public const string ChampionFile = "champion.json";

    /// <summary>A partner's inbox container, <c>inbox-{partner}</c>.</summary>
    public static string Inbox(StorageName partner) => InboxPrefix + Of(partner, NameKind.Partner);

    /// <summary>The partner an inbox container belongs to.</summary>
    /// <exception cref="InvalidNameException">The container is not <c>inbox-{valid partner}</c>.</exception>
    public static StorageName PartnerOfInbox(string? container, string field = "container") =>
        container is not null && container.StartsWith(InboxPrefix, StringComparison.Ordinal)
            ? StorageName.Partner(container[InboxPrefix.Length..], field)
            : throw new InvalidNameException(field, NameKind.Partner, "not a partner inbox (containers named inbox-{partner})");

    /// <summary>An inbox file, <c>{dataset}/{file}</c> within the partner's inbox container.</summary>
    public static (StorageName Dataset, StorageName File) ParseInboxBlob(string? blobName, string field = "blob")
    {
        var slash = blobName?.IndexOf('/') ?? -1;
        if (blobName is null || slash <= 0)
        {
            throw new InvalidNameException(field, NameKind.File, "files go under a dataset folder, inbox-{partner}/{dataset}/{file}");
        }

        return (StorageName.Dataset(blobName[..slash], field), StorageName.File(blobName[(slash + 1)..], field));
    }

    /// <summary>The blob name of an inbox file within its container.</summary>
    public static string InboxBlob(StorageName dataset, StorageName file) => $"{Of(dataset, NameKind.Dataset)}/{Of(file, NameKind.File)}";

    /// <summary><c>contracts/{partner}/{dataset}.json</c>.</summary>
    public static string Contract(StorageName partner, StorageName dataset) => $"{ContractsContainer}/{Of(partner, NameKind.Partner)}/{Of(dataset, NameKind.Dataset)}.json";

    /// <summary><c>contracts/{partner}/{dataset}.reference.json</c>: the drift reference profile.</summary>
    public static string Reference(StorageName partner, StorageName dataset) => $"{ContractsContainer}/{Of(partner, NameKind.Partner)}/{Of(dataset, NameKind.Dataset)}.reference.json";

    /// <summary><c>curated/{partner}/{dataset}/</c>: every curated run of a dataset lives under it.</summary>
    public static string CuratedDataset(StorageName partner, StorageName dataset) => $"{CuratedContainer}/{Of(partner, NameKind.Partner)}/{Of(dataset, NameKind.Dataset)}/";

    /// <summary><c>curated/{partner}/{dataset}/{run}/</c>.</summary>
    public static string CuratedRun(StorageName partner, StorageName dataset, StorageName run) => CuratedDataset(partner, dataset) + Of(run, NameKind.Run) + "/";

    /// <summary><c>curated/{partner}/{dataset}/{run}/_manifest.json</c>.</summary>
    public static string CuratedManifest(StorageName partner, StorageName dataset, StorageName run) => CuratedRun(partner, dataset, run) + ManifestFile;

    /// <summary>
    /// Parses a curated manifest path as callers send it (<c>curated/{partner}/{dataset}/{run}/_manifest.json</c>,
    /// exactly): a run can only be named under its own dataset's prefix.
    /// </summary>
    public static (StorageName Partner, StorageName Dataset, StorageName Run) ParseCuratedManifest(string? path, string field = "run")
    {
        var parts = path?.Split('/');
        if (parts is not [CuratedContainer, var partner, var dataset, var run, ManifestFile])
        {
            throw new InvalidNameException(field, NameKind.Run, "a curated run is named curated/{partner}/{dataset}/{runId}/_manifest.json");
        }

        return (StorageName.Partner(partner, field), StorageName.Dataset(dataset, field), StorageName.Run(run, field));
    }

    /// <summary><c>curated/{partner}/{dataset}/latest.json</c>: ingest's pointer to the newest committed run (<see cref="LatestRunPointer"/>).</summary>
    public static string LatestRun(StorageName partner, StorageName dataset) => CuratedDataset(partner, dataset) + "latest.json";

    /// <summary><c>quarantine/{partner}/{dataset}/{run}/</c>.</summary>
    public static string QuarantineRun(StorageName partner, StorageName dataset, StorageName run) =>
        $"{QuarantineContainer}/{Of(partner, NameKind.Partner)}/{Of(dataset, NameKind.Dataset)}/{Of(run, NameKind.Run)}/";

    /// <summary>
    /// The content index entry that makes a second copy of the same bytes, under the same contract, a duplicate:
    /// <c>curated/{partner}/{dataset}/_content/{contract sha256[..16]}/{input sha256}.json</c>. The same bytes under a
    /// changed contract are validated and curated again.
    /// </summary>
    public static string ContentIndex(StorageName partner, StorageName dataset, string inputSha256, string contractSha256) =>
        $"{CuratedDataset(partner, dataset)}_content/{Hex(contractSha256, nameof(contractSha256))[..16]}/{Hex(inputSha256, nameof(inputSha256))}.json";

    /// <summary>
    /// Where an inbox blob whose ingest failed records why: <c>quarantine/_failures/inbox-{partner}/{dataset}/{file}.json</c>
    /// for a well-named blob, <c>quarantine/_failures/_invalid/{sha256 of container/name}.json</c> for any other.
    /// </summary>
    public static string IngestFailure(string container, string blobName)
    {
        if (StorageName.TryParse(NameKind.Partner, container.StartsWith(InboxPrefix, StringComparison.Ordinal) ? container[InboxPrefix.Length..] : null, out var partner, out _))
        {
            var slash = blobName.IndexOf('/');
            if (slash > 0
                && StorageName.TryParse(NameKind.Dataset, blobName[..slash], out var dataset, out _)
                && StorageName.TryParse(NameKind.File, blobName[(slash + 1)..], out var file, out _))
            {
                return $"{QuarantineContainer}/_failures/{Inbox(partner)}/{InboxBlob(dataset, file)}.json";
            }
        }

        var digest = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{container}/{blobName}")));
        return $"{QuarantineContainer}/_failures/_invalid/{digest}.json";
    }

    /// <summary><c>models/{model}/</c>: every version of a model lives under it.</summary>
    public static string Model(StorageName model) => $"{ModelsContainer}/{Of(model, NameKind.Model)}/";

    /// <summary><c>models/{model}/{version}/</c>.</summary>
    public static string ModelVersion(StorageName model, StorageName version) => Model(model) + Of(version, NameKind.Version) + "/";

    /// <summary><c>models/{model}/{version}/{file}</c> (model.onnx, manifest.json, report.html, …).</summary>
    public static string ModelFile(StorageName model, StorageName version, StorageName file) => ModelVersion(model, version) + Of(file, NameKind.File);

    /// <summary><c>models/{model}/{version}/{file}</c> for one of the platform's own fixed file names.</summary>
    public static string ModelFile(StorageName model, StorageName version, string fixedFile) => ModelFile(model, version, StorageName.File(fixedFile, nameof(fixedFile)));

    /// <summary>A model version's own file (one of <see cref="ModelFiles"/>): <c>models/{model}/{version}/{file}</c>.</summary>
    public static string ModelFile(ModelReference version, string fixedFile) =>
        version.Version is { } v ? ModelFile(version.Model, v, fixedFile) : throw new ArgumentException($"{version} names no version.", nameof(version));

    /// <summary><c>models/{model}/champion.json</c>.</summary>
    public static string Champion(StorageName model) => Model(model) + ChampionFile;

    /// <summary><c>scores/{partner}/{dataset}/{run}/{model}@{version}/</c>.</summary>
    public static string ScoreRun(StorageName partner, StorageName dataset, StorageName run, StorageName model, StorageName version) =>
        $"{ScoresContainer}/{Of(partner, NameKind.Partner)}/{Of(dataset, NameKind.Dataset)}/{Of(run, NameKind.Run)}/{Of(model, NameKind.Model)}@{Of(version, NameKind.Version)}/";

    /// <summary><c>scores/_jobs/{jobId}.json</c>; a job id is 32 hexadecimal characters.</summary>
    public static string ScoreJob(string jobId) => $"{ScoresContainer}/_jobs/{Hex(jobId, nameof(jobId), 32)}.json";

    /// <summary>
    /// <c>scores/_rescore/{instance}/summary.json</c> for an orchestration instance id: the id itself when it is a
    /// valid run name, otherwise a digest of it (sub-orchestration ids carry separators).
    /// </summary>
    public static string RescoreSummary(string instanceId)
    {
        var segment = StorageName.TryParse(NameKind.Run, instanceId, out var name, out _)
            ? name.Value
            : "i" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(instanceId)))[..32];
        return $"{ScoresContainer}/_rescore/{segment}/summary.json";
    }

    /// <summary>A curated or score part's file name, <c>part-NNNNN.csv</c>.</summary>
    public static string Part(int index) => index >= 0 ? $"part-{index:D5}.csv" : throw new ArgumentOutOfRangeException(nameof(index));

    /// <summary>Whether <paramref name="text"/> is lowercase hexadecimal (of <paramref name="length"/> characters when given).</summary>
    public static bool IsHex(string? text, int? length = null) =>
        !string.IsNullOrEmpty(text) && (length is null || text.Length == length) && text.Length <= 128 && text.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f');

    private static string Hex(string text, string what, int? length = null) =>
        IsHex(text, length) ? text : throw new ArgumentException($"{what} must be {(length is null ? string.Empty : $"{length} ")}lowercase hexadecimal characters.", what);

    private static string Of(StorageName name, NameKind kind)
    {
        StorageName.Expect(name, kind);
        return name.Value;
    }
}

/// <summary>The fixed file names of a model version's folder, <c>models/{model}/{version}/</c>.</summary>
public static class ModelFiles
{
    /// <summary>The model manifest, written last (create-only): a version without it does not exist.</summary>
    public const string Manifest = "manifest.json";

    /// <summary>The training job's spec, written by TrainModel before the job starts.</summary>
    public const string Job = "job.json";

    /// <summary>The training job's status, written by the trainer as it goes.</summary>
    public const string Status = "status.json";

    /// <summary>The promotion decision.</summary>
    public const string Promotion = "promotion.json";

    /// <summary>The evaluation on the held-out rows.</summary>
    public const string Evaluation = "evaluation.json";

    /// <summary>The evaluation report.</summary>
    public const string Report = "report.html";
}
