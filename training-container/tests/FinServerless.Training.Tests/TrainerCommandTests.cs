using System.Text.Json;
using FinServerless.Contracts;
using FinServerless.Datasets.Contracts;
using FinServerless.Datasets.Ingest;
using FinServerless.Testing;
using FinServerless.Trainer;

namespace FinServerless.Training.Tests;

public sealed class TrainerCommandTests(AzuriteFixture azurite) : IClassFixture<AzuriteFixture>, IDisposable
{
    private const string Contract = """
        {"contractVersion": "1.0.0", "partner": "t", "dataset": "d", "file": {"delimiter": ",", "header": true},
         "rules": {"minRows": 0, "maxRejectedShare": 1}, "missingTokens": ["", "NA"],
         "columns": [{"name": "id", "type": "integer", "role": "id"}, {"name": "x", "type": "float"},
                     {"name": "y", "type": "integer", "role": "target", "nullable": true}]}
        """;

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("finserverless-trainer-cli-");

    public void Dispose() => _folder.Delete(recursive: true);

    private async Task<string> CurateAsync(IEnumerable<string> rows)
    {
        var csv = TrainingData.WriteCsv(_folder.FullName, "id,x,y", rows);
        var contract = DatasetContract.Parse(System.Text.Encoding.UTF8.GetBytes(Contract), "test contract");
        await using var input = File.OpenRead(csv);
        var outcome = await IngestEngine.RunAsync(input, csv, contract, StorageName.Run(Guid.NewGuid().ToString("N")), new FolderRunOutput(Path.Combine(_folder.FullName, "store")));
        Assert.Equal(IngestState.Curated, outcome.State);
        return Path.Combine(_folder.FullName, "store", outcome.ManifestPath!);
    }

    private static async Task<(int Code, string Out, string Err)> RunAsync(Func<string, string?>? environment, params string[] args)
    {
        var (stdout, stderr) = (new StringWriter(), new StringWriter());
        var code = await TrainerCommand.RunAsync(args, stdout, stderr, environment ?? (_ => null), CancellationToken.None);
        return (code, stdout.ToString(), stderr.ToString());
    }

    private string Models => Path.Combine(_folder.FullName, "store", "models", "m");

    [Fact]
    public async Task Empty_dataset_is_bad_input()
    {
        var run = await CurateAsync([]);
        var (code, _, err) = await RunAsync(null, "--input", run, "--output", Models, "--trainer", "xgboost");
        Assert.Equal(2, code);
        Assert.Contains("is empty: no rows to train on", err);
    }

    [Fact]
    public async Task One_class_only_is_bad_input()
    {
        var run = await CurateAsync(Enumerable.Range(1, 50).Select(i => $"{i},{i * 0.5},0"));
        var (code, _, err) = await RunAsync(null, "--input", run, "--output", Models, "--trainer", "scorecard");
        Assert.Equal(2, code);
        Assert.Contains("only one class", err);
    }

    [Fact]
    public async Task A_row_without_a_target_is_not_trained_on_and_is_counted()
    {
        // An empty target is an outcome not known yet (a loan still running): scored, never trained on.
        var run = await CurateAsync(Enumerable.Range(1, 200).Select(i => i % 50 == 7 ? $"{i},1.5," : $"{i},{i % 13},{((i % 13) > 6 ^ (i % 5 == 0) ? 1 : 0)}"));
        var noMinimums = new Dictionary<string, string?> { ["FINSERVERLESS_TRAIN_MIN_ROWS"] = "0", ["FINSERVERLESS_TRAIN_MIN_CLASS_ROWS"] = "0" };
        var (code, output, err) = await RunAsync(noMinimums.GetValueOrDefault, "--input", run, "--output", Models, "--trainer", "xgboost");
        Assert.True(code == 0, err);
        Assert.Contains("196 rows × 1 features", output + err);
        Assert.Contains("4 rows without a label (their outcome not known yet) are not trained on", output + err);
    }

    [Fact]
    public async Task Missing_feature_unknown_parameter_and_bad_settings_are_bad_input()
    {
        var run = await CurateAsync(Enumerable.Range(1, 50).Select(i => $"{i},{i},{i % 2}"));
        var missing = await RunAsync(null, "--input", run, "--output", Models, "--trainer", "xgboost", "--features", "x,income");
        Assert.Equal(2, missing.Code);
        Assert.Contains("lacks feature(s) 'income'", missing.Err);

        // Fifty rows are below the training minimums, which are checked first: lower them to reach the parameter check.
        var noMinimums = new Dictionary<string, string?> { ["FINSERVERLESS_TRAIN_MIN_ROWS"] = "0", ["FINSERVERLESS_TRAIN_MIN_CLASS_ROWS"] = "0" };
        var typo = await RunAsync(noMinimums.GetValueOrDefault, "--input", run, "--output", Models, "--trainer", "xgboost", "--params", "{\"max_dept\": 3}");
        Assert.Equal(2, typo.Code);
        Assert.Contains("Unknown xgboost parameter(s) 'max_dept'", typo.Err);

        var trainer = await RunAsync(null, "--input", run, "--output", Models, "--trainer", "forest");
        Assert.Equal(2, trainer.Code);
        Assert.Contains("Unknown trainer 'forest'", trainer.Err);

        var noInput = await RunAsync(null, "--output", Models, "--trainer", "xgboost");
        Assert.Equal(2, noInput.Code);
        Assert.Contains("--input (or FINSERVERLESS_TRAIN_INPUT) is required", noInput.Err);
    }

    [Fact]
    public async Task Fewer_rows_than_the_training_minimum_is_bad_input_naming_the_minimum_the_count_and_the_setting()
    {
        var run = await CurateAsync(Enumerable.Range(1, 300).Select(i => $"{i},{(i % 2) + (i % 7 * 0.1)},{i % 2}"));
        var status = Path.Combine(Models, "v1", "status.json");

        var (code, _, err) = await RunAsync(null, "--input", run, "--output", Path.Combine(Models, "v1"), "--trainer", "xgboost", "--status", status);

        Assert.Equal(2, code);
        Assert.Contains("has 300 rows, fewer than the 1,000 required to train a model (setting FINSERVERLESS_TRAIN_MIN_ROWS=1000)", err);
        using var written = JsonDocument.Parse(await File.ReadAllBytesAsync(status));
        var detail = written.RootElement.GetProperty("failure");
        Assert.Equal("failed", written.RootElement.GetProperty("state").GetString());
        Assert.Equal("FINSERVERLESS_TRAIN_MIN_ROWS", detail.GetProperty("setting").GetString());
        Assert.Equal(1000, detail.GetProperty("required").GetInt64());
        Assert.Equal(300, detail.GetProperty("found").GetInt64());
        Assert.False(File.Exists(Path.Combine(Models, "v1", "manifest.json")));
    }

    [Fact]
    public async Task Fewer_defaults_than_the_class_minimum_is_bad_input_and_lower_minimums_through_the_settings_train()
    {
        var run = await CurateAsync(Enumerable.Range(1, 1200).Select(i => $"{i},{(i % 40 == 0 ? 1 : 0) + (i % 7 * 0.1)},{(i % 40 == 0 ? 1 : 0)}"));
        var few = await RunAsync(null, "--input", run, "--output", Path.Combine(Models, "few"), "--trainer", "xgboost");
        var lowered = new Dictionary<string, string?> { ["FINSERVERLESS_TRAIN_MIN_CLASS_ROWS"] = "20" };
        var trained = await RunAsync(lowered.GetValueOrDefault, "--input", run, "--output", Path.Combine(Models, "lowered"), "--trainer", "xgboost");
        var byOption = await RunAsync(null, "--input", run, "--output", Path.Combine(Models, "option"), "--trainer", "xgboost", "--min-rows", "5000", "--min-class-rows", "0");
        var badSetting = await RunAsync(new Dictionary<string, string?> { ["FINSERVERLESS_TRAIN_MIN_ROWS"] = "lots" }.GetValueOrDefault, "--input", run, "--output", Path.Combine(Models, "bad"), "--trainer", "xgboost");

        Assert.Equal(2, few.Code);
        Assert.Contains("has 30 defaults (target 1) and 1,170 non-defaults (target 0), fewer than the 50 of each class required to train a model (setting FINSERVERLESS_TRAIN_MIN_CLASS_ROWS=50)", few.Err);
        Assert.True(trained.Code == 0, trained.Err);
        Assert.True(File.Exists(Path.Combine(Models, "lowered", "manifest.json")));
        Assert.Equal(2, byOption.Code);
        Assert.Contains("fewer than the 5,000 required to train a model (setting FINSERVERLESS_TRAIN_MIN_ROWS=5000)", byOption.Err);
        Assert.Equal(2, badSetting.Code);
        Assert.Contains("Setting FINSERVERLESS_TRAIN_MIN_ROWS must be a whole number", badSetting.Err);
    }

    [Fact]
    public async Task SIGTERM_cancels_training_and_the_status_says_cancelled()
    {
        var root = Path.Combine(_folder.FullName, "store");
        var run = await TrainingData.IngestAsync(new FolderRunOutput(root), TrainingData.TaiwanCsv, "taiwan-credit");
        var version = Path.Combine(root, "models", "sigterm", "v1");
        var psi = new System.Diagnostics.ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "finserverless-train.dll"), "--input", Path.Combine(root, run), "--output", version, "--trainer", "mlp", "--params", "{\"epochs\": 1000, \"patience\": 1000}", "--status", Path.Combine(version, "status.json") })
        {
            psi.ArgumentList.Add(a);
        }

        using var process = System.Diagnostics.Process.Start(psi)!;
        var training = new TaskCompletionSource();
        var output = new System.Collections.Concurrent.ConcurrentQueue<string>();
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { } line)
            {
                output.Enqueue(line);
                if (line.Contains("phase=train", StringComparison.Ordinal))
                {
                    training.TrySetResult();
                }
            }
        };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) { output.Enqueue(line); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await training.Task.WaitAsync(TimeSpan.FromMinutes(2));
            Assert.Equal(0, Kill(process.Id, 15));
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromMinutes(1));
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }

        Assert.True(process.ExitCode == 130, $"exit code {process.ExitCode}: {string.Join('\n', output)}");
        using var status = JsonDocument.Parse(await File.ReadAllBytesAsync(Path.Combine(version, "status.json")));
        Assert.Equal("cancelled", status.RootElement.GetProperty("state").GetString());
        Assert.False(File.Exists(Path.Combine(version, "manifest.json")), "a cancelled training registers nothing");
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    [Fact]
    public async Task Trains_from_a_job_file_in_blob_storage_scores_the_champion_on_the_same_held_out_rows_and_writes_a_typed_status()
    {
        var store = new BlobRunOutput(azurite.Blobs);
        var run = await TrainingData.IngestAsync(store, TrainingData.TaiwanCsv, "taiwan-credit");
        var model = $"taiwan-card-{Guid.NewGuid():N}"[..24];
        Func<string, string?> Environment(string version) => new Dictionary<string, string?>
        {
            ["AzureWebJobsStorage"] = azurite.ConnectionString,
            [TrainingJobSpec.LocationSetting] = $"blob://models/{model}/{version}/job.json",
        }.GetValueOrDefault;
        async Task<TrainingStatus> TrainAsync(string version, string trainer)
        {
            var spec = new TrainingJobSpec { Input = run, Model = model, Version = version, Trainer = trainer };
            await store.WriteAsync($"models/{model}/{version}/job.json", spec.ToJson(), "application/json", createOnly: false, default);
            var (code, stdout, err) = await RunAsync(Environment(version));
            Assert.True(code == 0, err);
            Assert.Contains($"result {{\"model\":\"{model}@{version}\"", stdout);
            return TrainingStatus.Parse((await store.ReadAsync($"models/{model}/{version}/status.json", default))!, "status");
        }

        var first = await TrainAsync("v1", "scorecard");
        Assert.Equal(JobState.Succeeded, first.State);
        Assert.Equal(0, first.ExitCode);
        Assert.Null(first.Result!.Comparison.ChampionVersion);
        Assert.Equal("no champion yet", first.Result.Comparison.ChampionNote);
        Assert.Equal(first.Result.Auc, first.Result.Comparison.CandidateAuc);
        Assert.NotNull(await store.ReadAsync($"models/{model}/v1/manifest.json", default));

        // With v1 the champion, the next job scores it on its own held-out rows, through ONNX Runtime as the scorer would.
        await new FinServerless.Scoring.ModelStore(store).PromoteAsync(ModelReference.Parse($"{model}@v1"), "test");
        var second = await TrainAsync("v2", "xgboost");
        var comparison = second.Result!.Comparison;
        Assert.Equal("v1", comparison.ChampionVersion);
        Assert.Equal(first.Result.Comparison.Rows, comparison.Rows); // the same seed and run: the same held-out rows
        Assert.Equal(first.Result.Comparison.Positives, comparison.Positives);
        Assert.Equal(first.Result.Auc, comparison.ChampionAuc!.Value, 5); // v1 scored on those rows again: its own AUC
        Assert.NotEqual(comparison.CandidateAuc, comparison.ChampionAuc);
    }

    [Fact]
    public async Task A_job_file_is_the_whole_job_options_beside_it_a_misplaced_or_mismatched_file_are_bad_input()
    {
        var root = Path.Combine(_folder.FullName, "store");
        var run = await CurateAsync(Enumerable.Range(1, 50).Select(i => $"{i},{i},{i % 2}"));
        var runPath = Path.GetRelativePath(root, run).Replace('\\', '/');
        var jobFile = Path.Combine(Models, "v3", "job.json");
        Directory.CreateDirectory(Path.GetDirectoryName(jobFile)!);
        await File.WriteAllBytesAsync(jobFile, new TrainingJobSpec { Input = runPath, Model = "other", Version = "v3", Trainer = "xgboost" }.ToJson());

        var withOption = await RunAsync(null, "--job", jobFile, "--trainer", "mlp");
        Assert.Equal(2, withOption.Code);
        Assert.Contains("A job file is the whole job; --trainer cannot be given with --job", withOption.Err);

        var mismatched = await RunAsync(null, "--job", jobFile);
        Assert.Equal(2, mismatched.Code);
        Assert.Contains("describes model other@v3, not the m@v3 whose folder it is in", mismatched.Err);
        var status = TrainingStatus.Parse(await File.ReadAllBytesAsync(Path.Combine(Models, "v3", "status.json")), "status");
        Assert.Equal(JobState.Failed, status.State);
        Assert.Equal(2, status.ExitCode);

        var misplaced = await RunAsync(null, "--job", Path.Combine(Models, "job.json"));
        Assert.Equal(2, misplaced.Code);
        Assert.Contains("a job file is models/{name}/{version}/job.json", misplaced.Err);

        await File.WriteAllTextAsync(jobFile, "{\"schemaVersion\": 1, \"input\": 3}");
        var broken = await RunAsync(null, "--job", jobFile);
        Assert.Equal(2, broken.Code);
        Assert.Contains("is not a valid job", broken.Err);
    }
}
