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
        html.Append("<table><tr><th>AUC</th><th>Gini</th><th>KS</th><th>Log loss</th><th>Brier</th></tr><tr>")
            .Append(CultureInfo.InvariantCulture, $"<td>{F(e.Auc)}</td><td>{F(e.Gini)}</td><td>{F(e.Ks)}</td><td>{F(e.LogLoss)}</td><td>{F(e.Brier)}</td></tr></table>");
        html.Append("<h2>Curves</h2>")
            .Append(Curve("ROC", "false-positive rate", "true-positive rate", e.Roc, diagonal: true))
            .Append(Curve("KS", "share of population (riskiest first)", "TPR − FPR", e.KsCurve, diagonal: false));
        html.Append("<h2>Calibration by decile</h2><table><tr><th>Decile</th><th>Rows</th><th>Mean predicted</th><th>Observed</th></tr>");
        foreach (var c in e.Calibration)
        {
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{c.Decile}</td><td>{c.Rows:N0}</td><td>{F(c.MeanPredicted)}</td><td>{F(c.ObservedRate)}</td></tr>");
        }

        html.Append("</table><h2>Risk bands</h2><table><tr><th>Band</th><th>Rows</th><th>Defaults</th><th>Observed rate</th><th>Mean predicted</th></tr>");
        foreach (var b in e.Bands)
        {
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{WebUtility.HtmlEncode(b.Band)}</td><td>{b.Rows:N0}</td><td>{b.Defaults:N0}</td><td>{F(b.ObservedRate)}</td><td>{F(b.MeanPredicted)}</td></tr>");
        }

        html.Append("</table>").Append(extraSection).Append("<h2>Lineage</h2><table>");
        foreach (var (k, v) in model.Lineage?.Fields() ?? [])
        {
            html.Append(CultureInfo.InvariantCulture, $"<tr><th>{WebUtility.HtmlEncode(k)}</th><td style=\"text-align:left\">{WebUtility.HtmlEncode(v)}</td></tr>");
        }

        return html.Append("</table></body></html>").ToString();
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
