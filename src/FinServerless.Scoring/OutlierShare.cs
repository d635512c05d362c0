using System.Buffers;
using FinServerless.Datasets.Ingest;
using FinServerless.Datasets.Output;

namespace FinServerless.Scoring;

/// <summary>How many of a curated run's rows an outlier model places above its cut-off, overall and per part.</summary>
/// <param name="Model">The outlier model, name@version.</param>
/// <param name="Threshold">Its cut-off: the 99th percentile of its training rows' scores.</param>
/// <param name="Rows">Rows scored.</param>
/// <param name="Above">Rows above the cut-off.</param>
/// <param name="AbovePerPart">Rows above the cut-off in each part, in part order.</param>
public sealed record OutlierSummary(string Model, double Threshold, long Rows, long Above, IReadOnlyList<long> AbovePerPart)
{
    /// <summary>Share of the rows above the cut-off (about 0.01 for rows like the training rows).</summary>
    public double Share => Rows == 0 ? 0 : Above / (double)Rows;
}

/// <summary>
/// Scores a curated run with an outlier model (an autoencoder registered with an <c>outlier</c> block) and counts the
/// rows above its cut-off: a file whose share is well above 1% holds rows unlike the ones the model was trained on
/// (data errors, a changed extract, fraud), a signal beside PSI drift. Parts are streamed and checked against their
/// SHA-256, as batch scoring reads them.
/// </summary>
public static class OutlierShare
{
    /// <summary>Counts <paramref name="run"/>'s rows above <paramref name="model"/>'s cut-off.</summary>
    public static async Task<OutlierSummary> ComputeAsync(RunManifest run, IRunOutput store, LoadedModel model, CancellationToken cancellationToken = default)
    {
        var profile = model.Manifest.Outlier
            ?? throw new ModelException($"Model {model.Manifest.Id} is not an outlier model: its manifest has no 'outlier' block (train one with OutlierJob).");
        BatchScorer.CheckFeatures(run, model.Manifest);
        const int batch = 16_384;
        var width = model.Manifest.Features.Count;
        var perPart = new long[run.Parts.Count];
        long rows = 0;
        var buffer = ArrayPool<float>.Shared.Rent(batch * width);
        try
        {
            for (var index = 0; index < run.Parts.Count; index++)
            {
                var path = run.PartPath(index);
                await using var stream = await store.OpenReadAsync(path, cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"Curated part {store.Describe(path)} of run {run.RunId} is missing.");
                var hashing = new HashingReadStream(stream);
                try
                {
                    using var reader = model.Manifest.OpenReader(hashing, $"Curated part {path}");
                    int n;
                    do
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        n = 0;
                        while (n < batch && reader.ReadRow(buffer.AsSpan(n * width, width)))
                        {
                            n++;
                        }

                        var scores = model.Predict(buffer.AsMemory(0, n * width), n);
                        perPart[index] += scores.Count(s => s > profile.Threshold);
                        rows += n;
                    }
                    while (n == batch);

                    if (!BatchScorer.Unchanged(hashing, run.Parts[index], drain: false))
                    {
                        throw new InvalidOperationException(BatchScorer.Modified(hashing, run.Parts[index]));
                    }
                }
                catch (CuratedDataException ex)
                {
                    throw new ModelException(ex.Message, ex);
                }
                finally
                {
                    hashing.ReleaseHash();
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(buffer);
        }

        return new OutlierSummary(model.Manifest.Id, profile.Threshold, rows, perPart.Sum(), perPart);
    }
}
