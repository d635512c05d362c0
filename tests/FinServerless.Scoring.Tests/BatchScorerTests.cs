using FinServerless.Contracts;
using FinServerless.Datasets.Ingest;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using FinServerless.Onnx.Writer;
using FinServerless.XGBoost;

namespace FinServerless.Scoring.Tests;

public sealed class BatchScorerTests(ScoringFixture fixture) : IClassFixture<ScoringFixture>
{
    internal static ModelManifest Manifest(string name, IReadOnlyList<string> features, string output, int column) => new()
    {
        Name = name,
        Version = "1.0.0",
        Trainer = "test",
        Features = features.Select(f => new FeatureSpec(f)).ToList(),
        Onnx = new OnnxArtifact { Sha256 = "set-on-register", ProbabilityOutput = output, ProbabilityColumn = column },
    };

    private static Dictionary<string, (float P, string Band, string Model)> ReadScores(string root, ScoreManifest manifest)
    {
        var scores = new Dictionary<string, (float, string, string)>();
        foreach (var part in manifest.Parts)
        {
            foreach (var line in File.ReadLines(Path.Combine(root, part.Path)).Skip(1))
            {
                var c = line.Split(',');
                scores[c[0]] = (float.Parse(c[1], CultureInfo.InvariantCulture), c[2], c[3]);
            }
        }

        return scores;
    }

    [Fact]
    public async Task A_linear_model_scores_every_curated_row_as_its_formula_says()
    {
        var features = fixture.Features;
        var weights = features.Select((f, i) => f.StartsWith("PAY_", StringComparison.Ordinal) && !f.StartsWith("PAY_AMT", StringComparison.Ordinal) ? 0.4f : (i % 3 - 1) * 1e-6f).ToArray();
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(Manifest("linear", features, LinearModel.OutputName, 0), LinearModel.Write(features, weights, -1.2f));
        using var model = await store.LoadAsync(ModelReference.Parse("linear@1.0.0"));

        var outcome = await BatchScorer.ScoreRunAsync(fixture.Run, fixture.RunManifestPath, fixture.Store, model);

        var (ids, x, _) = fixture.Table();
        var scores = ReadScores(fixture.Root, outcome.Manifest);
        Assert.Equal(30_000, outcome.Manifest.Rows);
        Assert.Equal(30_000, scores.Count);
        Assert.Equal(30_000, outcome.Manifest.Bands.Values.Sum());
        Assert.Equal(fixture.Run.Parts.Count, outcome.Manifest.Parts.Count);
        for (var r = 0; r < ids.Length; r += 97)
        {
            double z = -1.2;
            for (var k = 0; k < features.Count; k++)
            {
                z += (double)weights[k] * x[(r * features.Count) + k];
            }

            var expected = 1 / (1 + Math.Exp(-z));
            var (p, band, modelId) = scores[ids[r]];
            Assert.Equal(expected, p, 4);
            Assert.Equal(RiskBands.Default.Names[RiskBands.Default.IndexOf(p)], band);
            Assert.Equal("linear@1.0.0", modelId);
        }

        Assert.Equal(["ID", "probability_of_default", "grade", "model"], outcome.Manifest.Columns);
        Assert.True(outcome.Manifest.Timings.OrtRunSeconds > 0);
    }

    [Fact]
    public async Task A_tree_ensemble_trained_by_XGBoost_scores_as_XGBoost_predicts()
    {
        var features = fixture.Features;
        var ids = fixture.Table().Ids;
        var (onnx, expected) = fixture.Trees();
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(Manifest("trees", features, XGBoostTreeExport.ProbabilitiesOutput, 1), onnx);
        await store.PromoteAsync(ModelReference.Parse("trees@1.0.0"), "first");
        using var model = await store.LoadAsync(ModelReference.Parse("trees@champion"));

        var outcome = await BatchScorer.ScoreRunAsync(fixture.Run, fixture.RunManifestPath, fixture.Store, model, new ScoreOptions { BatchRows = 1000 });

        var scores = ReadScores(fixture.Root, outcome.Manifest);
        var worst = ids.Select((id, r) => Math.Abs(scores[id].P - expected[r])).Max();
        Assert.True(worst < 1e-5, $"largest difference {worst}");
    }

    [Fact]
    public async Task Any_batch_size_and_number_of_sessions_write_the_same_bytes()
    {
        var (onnx, _) = fixture.Trees(rounds: 10);
        var manifest = Manifest("layouts", fixture.Features, XGBoostTreeExport.ProbabilitiesOutput, 1);
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(manifest, onnx);
        using var model = await store.LoadAsync(ModelReference.Parse("layouts@1.0.0"));
        var prefix = BatchScorer.ScorePrefix(fixture.Run, model.Manifest);
        var firstPartRows = (int)fixture.Run.Parts[0].Rows;
        // Single-thread sessions sum each row's trees in order, whatever the batch; the shared pool may split a
        // batch's trees across threads (ORT's choice, by batch size), so its layouts are compared among themselves.
        ScoreOptions[][] groups =
        [
            [
                new() { Partitions = 2, BatchRows = 1_000 },
                new() { Partitions = 3, BatchRows = 7 },
                new() { Partitions = 2, BatchRows = firstPartRows }, // a part of exactly one batch
                new() { Partitions = 2, BatchRows = firstPartRows / 4 },
                new() { Partitions = 4, BatchRows = 16_384 },
            ],
            [
                new() { Partitions = 1, BatchRows = 4_096, SessionPerPartition = false },
                new() { Partitions = 3, BatchRows = 4_096, SessionPerPartition = false },
            ],
        ];

        foreach (var layouts in groups)
        {
            var results = new List<ScoreManifest>();
            foreach (var options in layouts)
            {
                await fixture.Store.DeletePrefixAsync(prefix, CancellationToken.None);
                results.Add((await BatchScorer.ScoreRunAsync(fixture.Run, fixture.RunManifestPath, fixture.Store, model, options)).Manifest);
            }

            foreach (var other in results.Skip(1))
            {
                Assert.Equal(results[0].Parts, other.Parts);
                Assert.Equal(results[0].Bands, other.Bands);
            }

            Assert.Equal(30_000, results[0].Rows);
        }
    }

    [Fact]
    public async Task A_feature_that_is_not_a_number_fails_the_run_with_its_part_line_and_column_while_batches_are_in_flight()
    {
        // A copy of the curated run whose second part has a text cell near its end, its manifest hash updated.
        var root = Directory.CreateTempSubdirectory("fs-score-bad-").FullName;
        try
        {
            var copy = new FolderRunOutput(root);
            var run = fixture.Run;
            foreach (var part in run.Parts)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(root, part.Path))!);
                File.Copy(Path.Combine(fixture.Root, part.Path), Path.Combine(root, part.Path));
            }

            var bad = run.Parts[1];
            var lines = File.ReadAllLines(Path.Combine(root, bad.Path));
            var column = Array.IndexOf(lines[0].Split(','), "LIMIT_BAL");
            var target = lines.Length - 3;
            var cells = lines[target].Split(',');
            cells[column] = "n/a-secret";
            lines[target] = string.Join(',', cells);
            await File.WriteAllTextAsync(Path.Combine(root, bad.Path), string.Join('\n', lines) + "\n");
            var bytes = await File.ReadAllBytesAsync(Path.Combine(root, bad.Path));
            var tampered = run with { Parts = run.Parts.Select(p => p == bad ? p with { Bytes = bytes.Length, Sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)) } : p).ToList() };
            var store = new ModelStore(copy);
            await store.RegisterAsync(Manifest("strict", fixture.Features, LinearModel.OutputName, 0), LinearModel.Write(fixture.Features, new float[fixture.Features.Count], 0));
            using var model = await store.LoadAsync(ModelReference.Parse("strict@1.0.0"));

            var error = await Assert.ThrowsAsync<ModelException>(() => BatchScorer.ScoreRunAsync(tampered, fixture.RunManifestPath, copy, model, new ScoreOptions { Partitions = 2, BatchRows = 50 }));

            Assert.Contains(bad.Path, error.Message, StringComparison.Ordinal);
            Assert.Contains($"line {target + 1}", error.Message, StringComparison.Ordinal);
            Assert.Contains("'LIMIT_BAL' is not a number", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("secret", error.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(Path.Combine(root, BatchScorer.ScorePrefix(tampered, model.Manifest) + "_manifest.json")));
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Theory]
    [InlineData("same-length")]
    [InlineData("cut-short")]
    [InlineData("unparsable")]
    public async Task A_part_changed_after_its_run_was_committed_is_refused_and_leaves_no_score_part(string change)
    {
        // A copy of the run whose second part is changed on disk while its manifest keeps the committed length and hash.
        var root = Directory.CreateTempSubdirectory("fs-score-changed-").FullName;
        try
        {
            var copy = new FolderRunOutput(root);
            foreach (var part in fixture.Run.Parts)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(root, part.Path))!);
                File.Copy(Path.Combine(fixture.Root, part.Path), Path.Combine(root, part.Path));
            }

            var changed = Path.Combine(root, fixture.Run.Parts[1].Path);
            var bytes = await File.ReadAllBytesAsync(changed);
            var lastLine = Array.LastIndexOf(bytes, (byte)'\n', bytes.Length - 2) + 1;
            switch (change)
            {
                case "same-length":
                    // One digit of a feature near the end, so the rows still parse.
                    var digit = Array.FindLastIndex(bytes, b => b is >= (byte)'1' and <= (byte)'8');
                    bytes[digit]++;
                    break;
                case "cut-short":
                    bytes = bytes[..lastLine];
                    break;
                default:
                    // Text where a number belongs: the parse fails first, but the reason given is the change.
                    bytes[lastLine + bytes.AsSpan(lastLine).IndexOf((byte)',') + 1] = (byte)'x';
                    break;
            }

            await File.WriteAllBytesAsync(changed, bytes);
            var store = new ModelStore(copy);
            await store.RegisterAsync(Manifest("changed", fixture.Features, LinearModel.OutputName, 0), LinearModel.Write(fixture.Features, new float[fixture.Features.Count], 0));
            using var model = await store.LoadAsync(ModelReference.Parse("changed@1.0.0"));

            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => BatchScorer.ScoreRunAsync(fixture.Run, fixture.RunManifestPath, copy, model, new ScoreOptions { Partitions = 2, BatchRows = 64 }));

            Assert.Contains(fixture.Run.Parts[1].Path, error.Message, StringComparison.Ordinal);
            Assert.Contains("modified after it was committed", error.Message, StringComparison.Ordinal);
            var prefix = Path.Combine(root, BatchScorer.ScorePrefix(fixture.Run, model.Manifest));
            Assert.False(File.Exists(Path.Combine(prefix, "part-00001.csv")));
            Assert.False(File.Exists(Path.Combine(prefix, "_manifest.json")));
            Assert.Empty(Directory.Exists(prefix) ? Directory.GetFiles(prefix, "*.tmp") : []);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_write_that_fails_part_way_stops_the_part_and_fails_the_run_with_the_storage_error()
    {
        // Small chunks, so that the formatter and the reader fill their channels while the writer is failing.
        var features = fixture.Features;
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(Manifest("failing-write", features, LinearModel.OutputName, 0), LinearModel.Write(features, new float[features.Count], 0));
        using var model = await store.LoadAsync(ModelReference.Parse("failing-write@1.0.0"));
        var chunkBytes = BatchScorer.ChunkBytes;
        BatchScorer.ChunkBytes = 1_024;
        try
        {
            var failing = new FailingWrites(fixture.Store, failAfter: 3);
            var scoring = BatchScorer.ScoreRunAsync(fixture.Run, fixture.RunManifestPath, failing, model, new ScoreOptions { Partitions = 2, BatchRows = 64 });
            var finished = await Task.WhenAny(scoring, Task.Delay(TimeSpan.FromMinutes(2)));

            Assert.Same(scoring, finished);
            var error = await Assert.ThrowsAsync<IOException>(() => scoring);
            Assert.Equal("disk full (injected)", error.Message);
            Assert.False(File.Exists(Path.Combine(fixture.Root, BatchScorer.ScorePrefix(fixture.Run, model.Manifest) + "_manifest.json")));
        }
        finally
        {
            BatchScorer.ChunkBytes = chunkBytes;
        }
    }

    /// <summary>A folder store whose streamed writes fail after a few chunks.</summary>
    private sealed class FailingWrites(FolderRunOutput inner, int failAfter) : IRunOutput
    {
        public Task<bool> WriteAsync(string path, ReadOnlyMemory<byte> content, string contentType, bool createOnly, CancellationToken cancellationToken) => inner.WriteAsync(path, content, contentType, createOnly, cancellationToken);

        public Task<byte[]?> ReadAsync(string path, CancellationToken cancellationToken) => inner.ReadAsync(path, cancellationToken);

        public Task<Stream?> OpenReadAsync(string path, CancellationToken cancellationToken) => inner.OpenReadAsync(path, cancellationToken);

        public Task DeletePrefixAsync(string prefix, CancellationToken cancellationToken) => inner.DeletePrefixAsync(prefix, cancellationToken);

        public string Describe(string path) => inner.Describe(path);

        public Task<ObjectWriter> OpenWriteAsync(string path, string contentType, CancellationToken cancellationToken) => Task.FromResult<ObjectWriter>(new Failing(failAfter));

        private sealed class Failing(int failAfter) : ObjectWriter
        {
            private int _writes;

            protected override async Task AppendAsync(ReadOnlyMemory<byte> bytes, CancellationToken cancellationToken)
            {
                await Task.Yield();
                if (++_writes > failAfter)
                {
                    throw new IOException("disk full (injected)");
                }
            }

            protected override Task FinishAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        }
    }

    [Fact]
    public async Task A_planned_part_scores_from_that_part_alone_to_the_bytes_the_whole_run_writes_and_a_part_outside_its_run_is_refused()
    {
        var (onnx, _) = fixture.Trees(rounds: 10);
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(Manifest("planned", fixture.Features, XGBoostTreeExport.ProbabilitiesOutput, 1), onnx);
        using var model = await store.LoadAsync(ModelReference.Parse("planned@1.0.0"));
        var whole = await BatchScorer.ScoreRunAsync(fixture.Run, fixture.RunManifestPath, fixture.Store, model, new ScoreOptions { Partitions = 1 });

        // A store holding only the part (no run manifest, no other part): what a rescoring partition reads.
        var alone = Directory.CreateTempSubdirectory("fs-part-alone-").FullName;
        try
        {
            var part = PartToScore.Of(fixture.Run, 1);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(alone, part.Path))!);
            File.Copy(Path.Combine(fixture.Root, part.Path), Path.Combine(alone, part.Path));
            var scored = await BatchScorer.ScorePartAsync(part, new FolderRunOutput(alone), model);

            Assert.Equal(whole.Manifest.Parts[1], scored.Part);
            Assert.Equal(await File.ReadAllBytesAsync(Path.Combine(fixture.Root, whole.Manifest.Parts[1].Path)), await File.ReadAllBytesAsync(Path.Combine(alone, scored.Part.Path)));

            var elsewhere = part with { Part = part.Part with { Path = "curated/other/taiwan-credit/r-scoring/part-00001.csv" } };
            await Assert.ThrowsAsync<InvalidDataException>(() => BatchScorer.ScorePartAsync(elsewhere, new FolderRunOutput(alone), model));
        }
        finally
        {
            Directory.Delete(alone, recursive: true);
        }
    }

    [Fact]
    public async Task Scoring_the_same_run_with_the_same_version_again_commits_nothing_new()
    {
        var features = fixture.Features;
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(Manifest("again", features, LinearModel.OutputName, 0), LinearModel.Write(features, new float[features.Count], 0));
        using var model = await store.LoadAsync(ModelReference.Parse("again@1.0.0"));

        var first = await BatchScorer.ScoreRunAsync(fixture.Run, fixture.RunManifestPath, fixture.Store, model);
        var second = await BatchScorer.ScoreRunAsync(fixture.Run, fixture.RunManifestPath, fixture.Store, model);

        Assert.False(first.AlreadyDone);
        Assert.True(second.AlreadyDone);
        Assert.Equal(first.Manifest.CreatedAt, second.Manifest.CreatedAt);
        Assert.Equal(30_000, second.Manifest.Bands.Values.Sum());
    }

    [Fact]
    public async Task A_model_file_changed_after_registration_is_refused()
    {
        var features = fixture.Features;
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(Manifest("tampered", features, LinearModel.OutputName, 0), LinearModel.Write(features, new float[features.Count], 0));
        File.WriteAllBytes(Path.Combine(fixture.Root, "models", "tampered", "1.0.0", "model.onnx"), LinearModel.Write(features, Enumerable.Repeat(1f, features.Count).ToArray(), 0));

        var error = await Assert.ThrowsAsync<ModelException>(() => store.LoadAsync(ModelReference.Parse("tampered@1.0.0")));

        Assert.Contains("SHA-256", error.Message);
        Assert.Contains("will not be loaded", error.Message);
    }

    [Fact]
    public async Task A_model_whose_features_the_run_lacks_fails_listing_the_differences()
    {
        string[] features = ["LIMIT_BAL", "AGE", "credit_score", "months_on_book"];
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(Manifest("other-data", features, LinearModel.OutputName, 0), LinearModel.Write(features, new float[4], 0));
        using var model = await store.LoadAsync(ModelReference.Parse("other-data@1.0.0"));

        var error = await Assert.ThrowsAsync<ModelException>(() => BatchScorer.ScoreRunAsync(fixture.Run, fixture.RunManifestPath, fixture.Store, model));

        Assert.Contains("lacks feature(s) 'credit_score', 'months_on_book'", error.Message);
        Assert.Contains("'PAY_0'", error.Message);
    }

    [Fact]
    public async Task A_corrupt_model_file_fails_with_ORTs_message()
    {
        var features = fixture.Features;
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(Manifest("corrupt", features, LinearModel.OutputName, 0), LinearModel.Write(features, new float[features.Count], 0)[..50]);

        var error = await Assert.ThrowsAsync<OnnxRuntimeException>(() => store.LoadAsync(ModelReference.Parse("corrupt@1.0.0")));

        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    [Fact]
    public async Task A_model_with_the_wrong_input_shape_or_type_is_refused_at_load()
    {
        var features = fixture.Features;
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(Manifest("narrow", features, LinearModel.OutputName, 0), LinearModel.Write(["a", "b"], [1f, 2f], 0));

        var error = await Assert.ThrowsAsync<ModelException>(() => store.LoadAsync(ModelReference.Parse("narrow@1.0.0")));

        Assert.Contains($"expected float[N,{features.Count}]", error.Message);
    }

    [Fact]
    public async Task A_model_taking_integers_instead_of_floats_is_refused_at_load()
    {
        var features = fixture.Features;
        var onnx = new OnnxModelBuilder("ints")
            .AddInput("features", FinServerless.Onnx.Proto.TensorProto.Types.DataType.Int64, "N", features.Count)
            .AddNode("Cast", ["features"], ["probability"], null, OnnxModelBuilder.Int("to", 1))
            .AddOutput("probability", FinServerless.Onnx.Proto.TensorProto.Types.DataType.Float, "N", features.Count)
            .ToBytes();
        var store = new ModelStore(fixture.Store);
        await store.RegisterAsync(Manifest("ints", features, "probability", 0), onnx);

        var error = await Assert.ThrowsAsync<ModelException>(() => store.LoadAsync(ModelReference.Parse("ints@1.0.0")));

        Assert.Contains("Int64", error.Message);
        Assert.Contains("float features", error.Message);
    }

    [Fact]
    public async Task An_unknown_champion_or_version_is_a_clear_error()
    {
        var store = new ModelStore(fixture.Store);

        var noChampion = await Assert.ThrowsAsync<ModelNotFoundException>(() => store.LoadAsync(ModelReference.Parse("nobody@champion")));
        var noVersion = await Assert.ThrowsAsync<ModelNotFoundException>(() => store.LoadAsync(ModelReference.Parse("nobody@9.9.9")));

        Assert.Contains("has no champion yet", noChampion.Message);
        Assert.Contains("nobody@9.9.9 is not registered", noVersion.Message);
    }

    [Fact]
    public void Risk_bands_parse_from_settings_and_refuse_bad_cutoffs()
    {
        var bands = RiskBands.Parse("low:0.05,medium:0.2,high");

        Assert.Equal(["low", "medium", "high"], bands.Names);
        Assert.Equal(1, bands.IndexOf(0.05));
        Assert.Equal(2, bands.IndexOf(0.9));
        Assert.Contains("must increase", Assert.Throws<ArgumentException>(() => RiskBands.Parse("low:0.3,high:0.1,top")).Message);
        Assert.Contains("FINSERVERLESS_MASTER_SCALE", Assert.Throws<ArgumentException>(() => RiskBands.Parse("low:x,top")).Message);
    }
}
