using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using FinServerless.Azurite;
using FinServerless.Native;
using FinServerless.Onnx.Runtime;
using FinServerless.Onnx.Writer;
using FinServerless.Storage;
using FinServerless.Storage.Blobs;

namespace FinServerless.DevHost;

/// <summary>
/// The end-to-end demo (walking skeleton): a real Azurite, the sample partner file uploaded to its inbox and
/// read back, a logistic model written as ONNX, stored as a model blob, loaded through ONNX Runtime's C API
/// and used to score the file.
/// </summary>
internal static class Demo
{
    private const string Partner = "demo";
    private const string Dataset = "taiwan-credit";
    private const string TargetColumn = "default.payment.next.month";

    public static async Task<int> RunAsync(string? samplePath, TextWriter output, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        samplePath ??= Path.Combine(RepositoryLayout.Root, "samples", "taiwan-credit", "UCI_Credit_Card.csv");
        if (!File.Exists(samplePath))
        {
            throw new InvalidOperationException($"Sample file '{samplePath}' does not exist; pass --sample PATH to a CSV file.");
        }

        void Step(string text) => output.WriteLine($"[{clock.Elapsed.TotalSeconds,6:0.0}s] {text}");

        Step("starting Azurite (a real one, on free ports, in a temporary folder)");
        await using var azurite = await AzuriteServer.StartAsync(cancellationToken: cancellationToken);
        Step($"Azurite is up: {azurite.BlobEndpoint}");

        var blobs = BlobServiceClient.FromConnectionString(azurite.ConnectionString);
        var inbox = blobs.GetBlobContainerClient($"inbox-{Partner}");
        await inbox.CreateIfNotExistsAsync(cancellationToken);
        var blob = inbox.GetBlobClient($"{Dataset}/{Path.GetFileName(samplePath)}");

        string localHash;
        await using (var file = File.OpenRead(samplePath))
        {
            localHash = Convert.ToHexStringLower(await SHA256.HashDataAsync(file, cancellationToken));
            file.Position = 0;
            var info = await blob.UploadAsync(file, new BlobUploadOptions { ContentType = "text/csv" }, cancellationToken);
            Step($"uploaded {blob.DisplayName} ({info.ContentLength:N0} bytes, sha256 {localHash[..12]}…)");
        }

        var downloaded = await blob.DownloadContentAsync(cancellationToken);
        var remoteHash = Convert.ToHexStringLower(SHA256.HashData(downloaded.ToMemory().Span));
        if (remoteHash != localHash)
        {
            throw new InvalidOperationException($"The blob read back from {blob.DisplayName} differs from the file (sha256 {remoteHash} vs {localHash}).");
        }

        Step("read it back: identical content (sha256 matches)");

        var table = SampleTable.Parse(downloaded.ToString(), TargetColumn);
        Step($"parsed {table.Rows:N0} rows × {table.Features.Count} features; default rate {table.Labels.Average():P2}");

        var (weights, bias) = SkeletonLogisticFit.Fit(table.Data, table.Labels, table.Features.Count, iterations: 300);
        var modelBytes = LinearModel.Write(table.Features, weights, bias);
        var models = blobs.GetBlobContainerClient("models");
        await models.CreateIfNotExistsAsync(cancellationToken);
        var modelBlob = models.GetBlobClient("demo-logistic/0.1.0/model.onnx");
        await modelBlob.UploadAsync(new BinaryData(modelBytes), new BlobUploadOptions { ContentType = "application/octet-stream" }, cancellationToken);
        Step($"wrote a logistic model as ONNX to models/{modelBlob.Name} ({modelBytes.Length:N0} bytes)");

        var stored = await modelBlob.DownloadContentAsync(cancellationToken);
        using var session = InferenceSession.Load(stored.ToMemory());
        Step($"loaded it through the ONNX Runtime {OrtEnvironment.Instance.Version} C API ({session.ExecutionProvider}); input {session.Inputs[0]}, output {session.Outputs[0]}");

        var one = table.Row(0).ToArray();
        using (var input = OrtValue.CreateTensor<float>(one, [1, table.Features.Count]))
        {
            var results = session.Run([input]);
            using var probability = results[0];
            var ort = probability.GetTensorData<float>()[0];
            var expected = SkeletonLogisticFit.Predict(one, weights, bias);
            Step($"scored row 1 (ID {table.Ids[0]}): probability of default {ort:0.0000} (managed check {expected:0.0000})");
            if (Math.Abs(ort - expected) > 1e-4)
            {
                throw new InvalidOperationException($"ONNX Runtime returned {ort} for row 1 but the model's own formula gives {expected}.");
            }
        }

        using (var all = OrtValue.CreateTensor<float>(table.Data, [table.Rows, table.Features.Count]))
        {
            var results = session.Run([all]);
            using var probabilities = results[0];
            var auc = SkeletonLogisticFit.Auc(probabilities.GetTensorData<float>(), table.Labels);
            Step($"scored all {table.Rows:N0} rows in one Run: AUC {auc:0.000} (in-sample; a skeleton model, not a validated one)");
        }

        output.WriteLine();
        output.WriteLine("Demo summary");
        output.WriteLine($"  partner file   inbox-{Partner}/{Dataset}/{Path.GetFileName(samplePath)}  ({table.Rows:N0} rows)");
        output.WriteLine($"  model          models/{modelBlob.Name}");
        output.WriteLine($"  engines        Azurite {azurite.BlobEndpoint.Port}/{azurite.QueueEndpoint.Port}, ONNX Runtime {OrtEnvironment.Instance.Version}");
        output.WriteLine($"  elapsed        {clock.Elapsed.TotalSeconds:0.0} s");
        return 0;
    }

    /// <summary>The sample as a dense float table (the skeleton's reader; full ingest comes with the datasets library).</summary>
    private sealed record SampleTable(IReadOnlyList<string> Features, float[] Data, float[] Labels, string[] Ids)
    {
        public int Rows => Labels.Length;

        public ReadOnlySpan<float> Row(int i) => Data.AsSpan(i * Features.Count, Features.Count);

        public static SampleTable Parse(string csv, string target)
        {
            var lines = csv.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var header = lines[0].Split(',').Select(h => h.Trim('"')).ToArray();
            var targetIndex = Array.IndexOf(header, target);
            if (targetIndex < 0)
            {
                throw new InvalidOperationException($"The sample file has no '{target}' column.");
            }

            var featureIndexes = Enumerable.Range(0, header.Length).Where(i => i != targetIndex && i != 0).ToArray();
            var rows = lines.Length - 1;
            var data = new float[rows * featureIndexes.Length];
            var labels = new float[rows];
            var ids = new string[rows];
            for (var r = 0; r < rows; r++)
            {
                var cells = lines[r + 1].Split(',');
                ids[r] = cells[0];
                labels[r] = float.Parse(cells[targetIndex], CultureInfo.InvariantCulture);
                for (var f = 0; f < featureIndexes.Length; f++)
                {
                    data[(r * featureIndexes.Length) + f] = float.Parse(cells[featureIndexes[f]], CultureInfo.InvariantCulture);
                }
            }

            return new SampleTable(featureIndexes.Select(i => header[i]).ToArray(), data, labels, ids);
        }
    }
}
