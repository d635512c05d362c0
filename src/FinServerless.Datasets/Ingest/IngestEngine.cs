using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using FinServerless.Contracts;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Csv;
using FinServerless.Datasets.Output;
using FinServerless.Datasets.Profiling;
using FinServerless.Datasets.Validation;

namespace FinServerless.Datasets.Ingest;

/// <summary>
/// Ingests one partner file: streams it, validates every row against the contract, writes normalized parts,
/// quarantines rejected rows with reasons, profiles, and commits the run with its manifest, written last and
/// create-only. Every file ends curated, rejected (with a report) or duplicate; a crash leaves no manifest,
/// and running the same run id again completes it.
/// </summary>
public static class IngestEngine
{
    /// <summary>Runs ingest of <paramref name="input"/> into <paramref name="output"/> under <paramref name="runId"/>.</summary>
    public static async Task<IngestOutcome> RunAsync(
        Stream input,
        string inputPath,
        DatasetContract contract,
        StorageName runId,
        IRunOutput output,
        IngestOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new IngestOptions();
        var curatedPrefix = StorageLayout.CuratedRun(contract.PartnerName, contract.DatasetName, runId);
        var quarantinePrefix = StorageLayout.QuarantineRun(contract.PartnerName, contract.DatasetName, runId);

        // Redelivery of the same event: the run already has its final record.
        if (await output.ReadAsync(curatedPrefix + StorageLayout.ManifestFile, cancellationToken).ConfigureAwait(false) is { } committed)
        {
            var manifest = JsonSerializer.Deserialize<RunManifest>(committed, RunManifest.JsonOptions)!;
            // A crash between the commit and the pointer is mended here, on the redelivery.
            await LatestRun.AdvanceAsync(output, manifest, curatedPrefix + StorageLayout.ManifestFile, cancellationToken).ConfigureAwait(false);
            return new IngestOutcome(IngestState.Curated, runId.Value, $"{inputPath}: already ingested as curated run {runId}; nothing done again.", manifest, null, curatedPrefix + StorageLayout.ManifestFile, manifest.QuarantineReport);
        }

        if (await output.ReadAsync(quarantinePrefix + StorageLayout.QuarantineReportFile, cancellationToken).ConfigureAwait(false) is { } reported)
        {
            var report = JsonSerializer.Deserialize<QuarantineReport>(reported, RunManifest.JsonOptions)!;
            if (report.State != IngestState.Curated)
            {
                return new IngestOutcome(report.State, runId.Value, $"{inputPath}: already processed ({report.State}); nothing done again. {report.Reason}", null, report, null, quarantinePrefix + StorageLayout.QuarantineReportFile);
            }
        }

        var run = new Run(inputPath, contract, runId.Value, output, options, curatedPrefix, quarantinePrefix);
        var hashing = new HashingReadStream(input);
        try
        {
            var outcome = await Task.Run(() => run.ExecuteAsync(hashing, cancellationToken), cancellationToken).ConfigureAwait(false);
            if (outcome is { State: IngestState.Curated, Manifest: { } committedRun, ManifestPath: { } committedPath })
            {
                await LatestRun.AdvanceAsync(output, committedRun, committedPath, cancellationToken).ConfigureAwait(false);
            }

            return outcome;
        }
        finally
        {
            hashing.ReleaseHash();
        }
    }

    /// <summary>
    /// A stable run id for an input (for example a blob path and its ETag) under a contract: redelivery maps to the
    /// same run, and the same file under a changed contract is a new run.
    /// </summary>
    public static StorageName RunIdFor(string inputIdentity, DatasetContract contract) =>
        StorageName.Run("r" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{inputIdentity}\n{contract.Sha256}")))[..20]);

    private sealed class Run(string inputPath, DatasetContract contract, string runId, IRunOutput output, IngestOptions options, string curatedPrefix, string quarantinePrefix)
    {
        private readonly Dictionary<string, long> _byRule = new(StringComparer.Ordinal);
        private readonly Dictionary<string, long> _byColumn = new(StringComparer.Ordinal);
        private readonly List<UnexpectedRow> _examples = [];
        private readonly List<RunPart> _parts = [];
        private readonly Utf8CsvWriter _rejected = new(64 * 1024);
        private long _rejectedLines;
        private long _read;
        private long _accepted;
        private long _rejectedRows;
        private Task _pendingPart = Task.CompletedTask;
        private Utf8CsvWriter _part = null!;
        private Utf8CsvWriter? _spare;
        private long _partRows;
        private HeaderMap? _map;
        private IReadOnlyList<string> _header = [];
        private string _sha256 = string.Empty;
        private long _bytes;

        public async Task<IngestOutcome> ExecuteAsync(HashingReadStream input, CancellationToken cancellationToken)
        {
            try
            {
                return await ProcessAsync(input, cancellationToken).ConfigureAwait(false);
            }
            catch (FileRejectedException ex)
            {
                await DrainAsync(input).ConfigureAwait(false);
                return await RejectAsync(ex.Rule, ex.Message, cancellationToken).ConfigureAwait(false);
            }
            catch (CsvFormatException ex)
            {
                await DrainAsync(input).ConfigureAwait(false);
                return await RejectAsync(FileRejectionRules.Malformed, ex.Message, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is InvalidDataException or EndOfStreamException)
            {
                await DrainAsync(input).ConfigureAwait(false);
                return await RejectAsync(FileRejectionRules.CorruptCompression, $"{inputPath}: the compressed data is truncated or corrupt after {_read:N0} data rows ({ex.Message}); send the file again.", cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // Anything else (a broken connection, cancellation) is not a verdict on the file: the caller
                // retries the same run id. Let the part in flight finish so the retry does not race it.
                try
                {
                    await _pendingPart.ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or OperationCanceledException or Azure.RequestFailedException)
                {
                }

                throw;
            }
        }

        private async Task<IngestOutcome> ProcessAsync(HashingReadStream input, CancellationToken cancellationToken)
        {
            var decoded = InputDecoder.Open(input, contract.File.Compression, inputPath, options.DecompressionLimits);
            using var reader = new CsvReader(decoded, (byte)contract.File.Delimiter[0], contract.File.MaxLineBytes, inputPath);
            if (contract.File.Header)
            {
                if (!reader.ReadRow())
                {
                    throw new FileRejectedException(FileRejectionRules.EmptyFile, $"{inputPath}: the file is empty; a header row and at least {contract.Rules.MinRows} data row(s) were expected.");
                }

                _map = HeaderMap.FromHeader(reader, contract, inputPath);
            }
            else
            {
                _map = HeaderMap.ByPosition(contract);
            }

            var pipeline = new RowPipeline(contract, _map, options.Reference?.Profile, options.Workers, options.BlockBytes);
            _header = pipeline.Header;
            _part = NewPart(pipeline);
            _rejected.Field("row");
            _rejected.Field("line");
            _rejected.Field("column");
            _rejected.Field("rule");
            _rejected.Field("detail");
            _rejected.Field("value");
            _rejected.EndRow();

            var nextProgress = 1L << 20;
            await pipeline.RunAsync(reader.ContinueInBlocks(), inputPath, async batch =>
            {
                _read += batch.Count;
                if (_read > options.MaxRows)
                {
                    throw new FileRejectedException(FileRejectionRules.MaxRows,
                        $"{inputPath}: more than {options.MaxRows:N0} data rows, the limit per file (IngestOptions.MaxRows, setting {IngestSettings.MaxRows}); it was not read further. Split it into smaller files, or raise the limit.");
                }

                _accepted += batch.Accepted;
                _partRows += batch.Accepted;
                _part.AppendRows(batch.Curated.Written.Span);
                foreach (var rejected in batch.Rejected)
                {
                    _rejectedRows++;
                    RecordRejection(rejected);
                }

                if (_part.Length >= options.PartBytes)
                {
                    await FlushPartAsync(pipeline, cancellationToken).ConfigureAwait(false);
                }

                if (_read >= nextProgress)
                {
                    options.Progress?.Invoke(_read);
                    nextProgress += 1L << 20;
                }
            }, cancellationToken).ConfigureAwait(false);

            if (_read < contract.Rules.MinRows)
            {
                throw new FileRejectedException(FileRejectionRules.MinRows, $"{inputPath}: {_read:N0} data row(s), fewer than the contract's minimum of {contract.Rules.MinRows:N0}.");
            }

            var share = _read == 0 ? 0 : (double)_rejectedRows / _read;
            if (share > contract.Rules.MaxRejectedShare)
            {
                var top = _byRule.OrderByDescending(r => r.Value).First();
                var first = _examples.Count > 0 ? $" First rejected: row {_examples[0].Row} (line {_examples[0].Line}): {_examples[0].Failures[0]}." : string.Empty;
                throw new FileRejectedException(FileRejectionRules.MaxRejectedShare,
                    $"{inputPath}: {_rejectedRows:N0} of {_read:N0} rows ({share:P1}) failed validation, more than the contract allows ({contract.Rules.MaxRejectedShare:P1}). Most common rule: {top.Key} ({top.Value:N0}).{first}");
            }

            await FlushPartAsync(pipeline, cancellationToken, final: true).ConfigureAwait(false);
            await _pendingPart.ConfigureAwait(false);
            _sha256 = input.Finish();
            _bytes = input.BytesRead;

            // Same bytes dropped again (under any name): the first run wins; this file points to it.
            var indexPath = StorageLayout.ContentIndex(contract.PartnerName, contract.DatasetName, _sha256, contract.Sha256);
            var claim = JsonSerializer.SerializeToUtf8Bytes(new { runId, input = inputPath }, RunManifest.JsonOptions);
            if (!await output.WriteAsync(indexPath, claim, "application/json", createOnly: true, cancellationToken).ConfigureAwait(false))
            {
                var owner = JsonDocument.Parse(await output.ReadAsync(indexPath, cancellationToken).ConfigureAwait(false) ?? "{}"u8.ToArray()).RootElement;
                var ownerRun = owner.TryGetProperty("runId", out var r) ? r.GetString() : null;
                if (ownerRun != runId)
                {
                    await output.DeletePrefixAsync(curatedPrefix, cancellationToken).ConfigureAwait(false);
                    var original = StorageName.TryParse(NameKind.Run, ownerRun, out var ownerName, out _) ? StorageLayout.CuratedRun(contract.PartnerName, contract.DatasetName, ownerName) : null;
                    var duplicate = Report(IngestState.Duplicate, "duplicate_content", $"{inputPath}: the same content (sha256 {_sha256}) was already ingested as run {ownerRun}; not curated again.") with { CuratedRun = original };
                    (_, duplicate) = await WriteReportAsync(duplicate, includeRejected: false, cancellationToken).ConfigureAwait(false);
                    return new IngestOutcome(IngestState.Duplicate, runId, duplicate.Reason, null, duplicate, null, quarantinePrefix + StorageLayout.QuarantineReportFile);
                }
            }

            var idChecks = pipeline.IdChecks();
            var warnings = idChecks.Select(c => c.Warning(_accepted)).OfType<string>().ToList();
            string? reportPath = null;
            QuarantineReport? report = null;
            if (_rejectedRows > 0)
            {
                report = Report(IngestState.Curated, null, $"{inputPath}: {_rejectedRows:N0} of {_read:N0} rows failed validation and were quarantined; the rest were curated.") with { CuratedRun = curatedPrefix, Warnings = warnings };
                (reportPath, report) = await WriteReportAsync(report, includeRejected: true, cancellationToken).ConfigureAwait(false);
            }

            var profiler = pipeline.MergedProfiler();
            var profile = profiler.Build();
            var drift = options.Reference is { } reference ? new DriftReport(reference.Source, profiler.DriftAgainstReference(profile)) : null;
            var manifest = new RunManifest
            {
                RunId = runId,
                Partner = contract.Partner,
                Dataset = contract.Dataset,
                CreatedAt = DateTimeOffset.UtcNow,
                Input = new InputFile(inputPath, _sha256, _bytes),
                Contract = new ContractRef(contract.ContractVersion, contract.Sha256, options.ContractPath),
                CodeVersion = options.CodeVersion,
                Rows = new RowCounts(_read, _accepted, _rejectedRows),
                Columns = _header,
                IdColumns = contract.Columns.Where(c => c.Role == ColumnRole.Id).Select(c => c.EffectiveOutputName).ToList(),
                TargetColumn = contract.Columns.FirstOrDefault(c => c.Role == ColumnRole.Target)?.EffectiveOutputName,
                Features = FeatureColumn.From(contract),
                Parts = _parts,
                ExtraColumns = _map.ExtraColumns,
                FormulaCellsNeutralized = pipeline.NeutralizedCells(),
                IdChecks = idChecks,
                Warnings = warnings,
                QuarantineReport = reportPath,
                Profile = profile,
                Drift = drift,
            };
            var manifestPath = curatedPrefix + StorageLayout.ManifestFile;
            await output.WriteAsync(manifestPath, JsonSerializer.SerializeToUtf8Bytes(manifest, RunManifest.JsonOptions), "application/json", createOnly: true, cancellationToken).ConfigureAwait(false);
            var message = $"{inputPath}: curated {_accepted:N0} of {_read:N0} rows as run {runId}" + (_rejectedRows > 0 ? $"; {_rejectedRows:N0} quarantined." : ".") + string.Concat(warnings.Select(w => $" Warning: {w}."));
            return new IngestOutcome(IngestState.Curated, runId, message, manifest, report, manifestPath, reportPath);
        }

        private Utf8CsvWriter NewPart(RowPipeline pipeline)
        {
            var writer = _spare ?? new Utf8CsvWriter(Math.Min(options.PartBytes + (2 << 20), 66 << 20));
            _spare = null;
            writer.Clear();
            pipeline.WriteHeader(writer);
            return writer;
        }

        private async Task FlushPartAsync(RowPipeline pipeline, CancellationToken cancellationToken, bool final = false)
        {
            if (_partRows == 0 && (!final || _parts.Count > 0))
            {
                return;
            }

            // At most one part uploads while the next one fills.
            await _pendingPart.ConfigureAwait(false);
            var full = _part;
            var path = curatedPrefix + StorageLayout.Part(_parts.Count);
            var index = _parts.Count;
            _parts.Add(new RunPart(path, _partRows, full.Length, string.Empty));
            _partRows = 0;
            _pendingPart = Task.Run(() => WriteAndRecycleAsync(full, index, path, cancellationToken), cancellationToken);
            if (!final)
            {
                _part = NewPart(pipeline);
            }
        }

        private async Task WriteAndRecycleAsync(Utf8CsvWriter part, int index, string path, CancellationToken cancellationToken)
        {
            // Hashing and writing the part overlap with parsing the next one.
            _parts[index] = _parts[index] with { Sha256 = Convert.ToHexStringLower(SHA256.HashData(part.Written.Span)) };
            await output.WriteAsync(path, part.Written, "text/csv", createOnly: false, cancellationToken).ConfigureAwait(false);
            _spare = part;
        }

        private void RecordRejection(RejectedRow row)
        {
            var failures = new List<string>(row.Failures.Count);
            foreach (var f in row.Failures)
            {
                _byRule[f.Rule] = _byRule.GetValueOrDefault(f.Rule) + 1;
                if (f.Column.Length > 0)
                {
                    _byColumn[f.Column] = _byColumn.GetValueOrDefault(f.Column) + 1;
                }

                failures.Add(f.Column.Length > 0 ? $"column '{f.Column}': {f.Rule} ({f.Detail})" : $"{f.Rule} ({f.Detail})");
                if (_rejectedLines++ < options.MaxRejectedCsvLines)
                {
                    _rejected.Field(row.Row);
                    _rejected.Field(row.Line);
                    _rejected.Field(f.Column);
                    _rejected.Field(f.Rule);
                    _rejected.Field(f.Detail);
                    _rejected.Field(f.Value);
                    _rejected.EndRow();
                }
            }

            if (_examples.Count < options.ReportExamples)
            {
                _examples.Add(new UnexpectedRow(row.Row, row.Line, row.Ids, failures));
            }
        }

        private QuarantineReport Report(IngestState state, string? rule, string reason) => new()
        {
            RunId = runId,
            Partner = contract.Partner,
            Dataset = contract.Dataset,
            Input = new InputFile(inputPath, _sha256, _bytes),
            State = state,
            Rule = rule,
            Reason = reason,
            ContractVersion = contract.ContractVersion,
            Rows = new RowCounts(_read, state == IngestState.Curated ? _accepted : 0, _rejectedRows),
            SuccessPercent = _read == 0 ? 0 : Math.Round(100.0 * (_read - _rejectedRows) / _read, 4),
            FailuresByRule = new SortedDictionary<string, long>(_byRule, StringComparer.Ordinal),
            FailuresByColumn = new SortedDictionary<string, long>(_byColumn, StringComparer.Ordinal),
            UnexpectedRows = _examples,
            ExtraColumns = _map?.ExtraColumns ?? ExtraColumns.None,
        };

        private async Task<(string Path, QuarantineReport Report)> WriteReportAsync(QuarantineReport report, bool includeRejected, CancellationToken cancellationToken)
        {
            if (includeRejected && _rejectedRows > 0)
            {
                report = report with { RejectedCsv = quarantinePrefix + "rejected.csv", RejectedCsvTruncated = _rejectedLines > options.MaxRejectedCsvLines };
                await output.WriteAsync(quarantinePrefix + "rejected.csv", _rejected.Written, "text/csv", createOnly: false, cancellationToken).ConfigureAwait(false);
            }

            var path = quarantinePrefix + StorageLayout.QuarantineReportFile;
            await output.WriteAsync(path, JsonSerializer.SerializeToUtf8Bytes(report, RunManifest.JsonOptions), "application/json", createOnly: false, cancellationToken).ConfigureAwait(false);
            return (path, report);
        }

        private async Task<IngestOutcome> RejectAsync(string rule, string reason, CancellationToken cancellationToken)
        {
            try
            {
                await _pendingPart.ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException)
            {
                // The part will be deleted below anyway.
            }

            await output.DeletePrefixAsync(curatedPrefix, cancellationToken).ConfigureAwait(false);
            var (path, report) = await WriteReportAsync(Report(IngestState.Rejected, rule, reason), includeRejected: true, cancellationToken).ConfigureAwait(false);
            return new IngestOutcome(IngestState.Rejected, runId, reason, null, report, null, path);
        }

        private async Task DrainAsync(HashingReadStream input)
        {
            try
            {
                _sha256 = await Task.Run(input.Finish).ConfigureAwait(false);
                _bytes = input.BytesRead;
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException)
            {
                _sha256 = string.Empty;
            }
        }
    }
}

/// <summary>
/// Neutralizes cells a spreadsheet would run as formulas (OWASP CSV injection guidance): in rejected.csv, and in
/// curated parts for string columns.
/// </summary>
public static class SpreadsheetSafe
{
    /// <summary>What a neutralized cell is prefixed with.</summary>
    public const char Prefix = '\'';

    /// <summary>Prefixes a single quote when the text starts with =, +, -, @, tab or carriage return.</summary>
    public static string Neutralize(string value) =>
        value.Length > 0 && value[0] is '=' or '+' or '-' or '@' or '\t' or '\r' ? Prefix + value : value;

    /// <summary>Whether UTF-8 text starting with <paramref name="first"/> needs neutralizing (the same characters, all ASCII).</summary>
    public static bool StartsFormula(byte first) =>
        first is (byte)'=' or (byte)'+' or (byte)'-' or (byte)'@' or (byte)'\t' or (byte)'\r';
}
