using System.Globalization;
using System.Net;
using System.Text;
using FinServerless.Scoring;

namespace FinServerless.Training.Evaluation;

/// <summary>The evaluation report: one self-contained HTML page with the metrics, ROC and KS curves as SVG, calibration and bands.</summary>
public static class EvaluationReport
{
    /// <summary>Writes the page.</summary>
    public static string Html(ModelManifest model, EvaluationResult e, string? extraSection = null)
    {
        string F(double v, string format = "0.0000") => v.ToString(format, CultureInfo.InvariantCulture);
        var html = new StringBuilder();
        html.Append("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>")
            .Append(WebUtility.HtmlEncode(model.Id))
            .Append("</title><style>body{font-family:sans-serif;margin:2em;max-width:60em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}svg{border:1px solid #ddd;margin-right:1em}</style></head><body>");
        html.Append(CultureInfo.InvariantCulture, $"<h1>{WebUtility.HtmlEncode(model.Id)}</h1><p>Trainer {WebUtility.HtmlEncode(model.Trainer ?? "?")}, created {model.CreatedAt:u}; evaluated on {e.Rows:N0} held-out rows ({e.Positives:N0} defaults).</p>");
        html.Append("<table><tr><th>AUC</th><th>Gini</th><th>KS</th><th>Log loss</th><th>Brier</th><th>ECE</th><th>Mean PD</th><th>Observed rate</th></tr><tr>")
            .Append(CultureInfo.InvariantCulture, $"<td>{F(e.Auc)}</td><td>{F(e.Gini)}</td><td>{F(e.Ks)}</td><td>{F(e.LogLoss)}</td><td>{F(e.Brier)}</td><td>{F(e.Ece)}</td><td>{F(e.MeanPredicted)}</td><td>{F(e.ObservedRate)}</td></tr></table>");
        html.Append(model.Calibration is { } calibration
            ? string.Create(CultureInfo.InvariantCulture, $"<p>Probabilities of default are calibrated ({WebUtility.HtmlEncode(calibration.Method)}: slope {calibration.Slope:0.0000}, intercept {calibration.Intercept:0.0000}, fitted on {WebUtility.HtmlEncode(calibration.FittedOn ?? "?")}); every figure here is on the calibrated PD.</p>")
            : "<p>The model's output is used as the probability of default without calibration.</p>");
        html.Append("<h2>Curves</h2>")
            .Append(Curve("ROC", "false-positive rate", "true-positive rate", e.Roc, diagonal: true))
            .Append(Curve("KS", "share of population (riskiest first)", "TPR − FPR", e.KsCurve, diagonal: false));
        html.Append("<h2>Calibration by decile</h2>").Append(Reliability(e.Calibration)).Append("<table><tr><th>Decile</th><th>Rows</th><th>Mean predicted</th><th>Observed</th></tr>");
        foreach (var c in e.Calibration)
        {
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{c.Decile}</td><td>{c.Rows:N0}</td><td>{F(c.MeanPredicted)}</td><td>{F(c.ObservedRate)}</td></tr>");
        }

        html.Append("</table><h2>Master scale</h2><table class=\"grades\"><tr><th>Grade</th><th>PD range</th><th>Rows</th><th>Share</th><th>Defaults</th><th>Observed rate</th><th>Mean predicted PD</th></tr>");
        foreach (var b in e.Bands)
        {
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{WebUtility.HtmlEncode(b.Band)}</td><td>{WebUtility.HtmlEncode(b.Range ?? string.Empty)}</td><td>{b.Rows:N0}</td><td>{F(b.Rows / (double)Math.Max(1, e.Rows), "0.0%")}</td><td>{b.Defaults:N0}</td><td>{F(b.ObservedRate)}</td><td>{F(b.MeanPredicted)}</td></tr>");
        }

        html.Append("</table>").Append(extraSection).Append("<h2>Lineage</h2><table>");
        foreach (var (k, v) in model.Lineage?.Fields() ?? [])
        {
            html.Append(CultureInfo.InvariantCulture, $"<tr><th>{WebUtility.HtmlEncode(k)}</th><td style=\"text-align:left\">{WebUtility.HtmlEncode(v)}</td></tr>");
        }

        return html.Append("</table></body></html>").ToString();
    }

    /// <summary>The reliability diagram: observed default rate against mean predicted PD per decile, with the row count of each, axis ticks and the diagonal.</summary>
    private static string Reliability(IReadOnlyList<CalibrationBin> bins)
    {
        const int size = 300, pad = 50;
        var top = Math.Max(0.05, Math.Ceiling(bins.Select(b => Math.Max(b.MeanPredicted, b.ObservedRate)).DefaultIfEmpty(0).Max() * 10) / 10);
        string P(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);
        double X(double v) => pad + (v / top * size);
        double Y(double v) => pad + size - (v / top * size);
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size + (2 * pad)}\" height=\"{size + (2 * pad)}\" role=\"img\" aria-label=\"reliability diagram\" class=\"reliability\">")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{pad}\" y=\"20\" font-size=\"14\">Reliability (by decile of predicted PD)</text>")
            .Append(CultureInfo.InvariantCulture, $"<rect x=\"{pad}\" y=\"{pad}\" width=\"{size}\" height=\"{size}\" fill=\"none\" stroke=\"#999\"/>")
            .Append(CultureInfo.InvariantCulture, $"<line x1=\"{pad}\" y1=\"{pad + size}\" x2=\"{pad + size}\" y2=\"{pad}\" stroke=\"#ccc\" stroke-dasharray=\"4\"/>");
        for (var t = 0; t <= 5; t++)
        {
            var v = top * t / 5;
            var label = v.ToString("0.00", CultureInfo.InvariantCulture);
            svg.Append(CultureInfo.InvariantCulture, $"<line class=\"tick\" x1=\"{P(X(v))}\" y1=\"{pad + size}\" x2=\"{P(X(v))}\" y2=\"{pad + size + 5}\" stroke=\"#999\"/><text x=\"{P(X(v) - 10)}\" y=\"{pad + size + 17}\" font-size=\"10\">{label}</text>")
                .Append(CultureInfo.InvariantCulture, $"<line class=\"tick\" x1=\"{pad - 5}\" y1=\"{P(Y(v))}\" x2=\"{pad}\" y2=\"{P(Y(v))}\" stroke=\"#999\"/><text x=\"{pad - 35}\" y=\"{P(Y(v) + 3)}\" font-size=\"10\">{label}</text>");
        }

        svg.Append(CultureInfo.InvariantCulture, $"<path d=\"{string.Join(" ", bins.Select((b, i) => $"{(i == 0 ? "M" : "L")}{P(X(b.MeanPredicted))},{P(Y(b.ObservedRate))}"))}\" fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"1.5\"/>");
        foreach (var b in bins)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<circle class=\"bin\" cx=\"{P(X(b.MeanPredicted))}\" cy=\"{P(Y(b.ObservedRate))}\" r=\"4\" fill=\"#1f5fa8\" data-predicted=\"{b.MeanPredicted.ToString("0.######", CultureInfo.InvariantCulture)}\" data-observed=\"{b.ObservedRate.ToString("0.######", CultureInfo.InvariantCulture)}\" data-rows=\"{b.Rows}\"><title>decile {b.Decile}: {b.Rows:N0} rows, predicted {b.MeanPredicted:0.0000}, observed {b.ObservedRate:0.0000}</title></circle>")
                .Append(CultureInfo.InvariantCulture, $"<text x=\"{P(X(b.MeanPredicted) + 6)}\" y=\"{P(Y(b.ObservedRate) - 6)}\" font-size=\"9\" fill=\"#555\">{b.Rows:N0}</text>");
        }

        return svg.Append(CultureInfo.InvariantCulture, $"<text x=\"{pad}\" y=\"{size + pad + 35}\" font-size=\"11\">mean predicted PD</text>")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"12\" y=\"{pad + size}\" font-size=\"11\" transform=\"rotate(-90 12 {pad + size})\">observed default rate</text></svg>")
            .ToString();
    }

    private static string Curve(string title, string xLabel, string yLabel, IReadOnlyList<CurvePoint> points, bool diagonal)
    {
        const int size = 300, pad = 40;
        string P(double v) => v.ToString("0.#", CultureInfo.InvariantCulture);
        var path = string.Join(" ", points.Select((p, i) => $"{(i == 0 ? "M" : "L")}{P(pad + (p.X * size))},{P(pad + size - (p.Y * size))}"));
        var svg = new StringBuilder();
        svg.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{size + (2 * pad)}\" height=\"{size + (2 * pad)}\" role=\"img\" aria-label=\"{title} curve\">")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{pad}\" y=\"20\" font-size=\"14\">{title}</text>")
            .Append(CultureInfo.InvariantCulture, $"<rect x=\"{pad}\" y=\"{pad}\" width=\"{size}\" height=\"{size}\" fill=\"none\" stroke=\"#999\"/>");
        if (diagonal)
        {
            svg.Append(CultureInfo.InvariantCulture, $"<line x1=\"{pad}\" y1=\"{pad + size}\" x2=\"{pad + size}\" y2=\"{pad}\" stroke=\"#ccc\" stroke-dasharray=\"4\"/>");
        }

        return svg.Append(CultureInfo.InvariantCulture, $"<path d=\"{path}\" fill=\"none\" stroke=\"#1f5fa8\" stroke-width=\"2\"/>")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"{pad}\" y=\"{size + pad + 25}\" font-size=\"11\">{WebUtility.HtmlEncode(xLabel)}</text>")
            .Append(CultureInfo.InvariantCulture, $"<text x=\"12\" y=\"{pad + size}\" font-size=\"11\" transform=\"rotate(-90 12 {pad + size})\">{WebUtility.HtmlEncode(yLabel)}</text></svg>")
            .ToString();
    }
}
