namespace FinServerless.Scoring;

/// <summary>
/// How a model's raw output becomes a probability of default: Platt scaling, <c>p = 1 / (1 + exp(-(slope · logit(raw) +
/// intercept)))</c>, fitted by maximum likelihood on rows the model was not fitted on. It is recorded in the model's
/// manifest and applied by <see cref="LoadedModel.Predict"/>, which every scoring path goes through, so a PD reads
/// the same wherever it is computed. Monotone: it changes no ranking (AUC, KS, Gini stay as they were).
/// </summary>
public sealed record ProbabilityCalibration
{
    /// <summary>"platt".</summary>
    public string Method { get; init; } = "platt";

    /// <summary>Coefficient of the raw logit.</summary>
    public required double Slope { get; init; }

    /// <summary>Intercept.</summary>
    public required double Intercept { get; init; }

    /// <summary>Which rows it was fitted on (for example the early-stopping rows, held out from fitting the model).</summary>
    public string? FittedOn { get; init; }

    /// <summary>How many rows it was fitted on.</summary>
    public long Rows { get; init; }

    /// <summary>Raw outputs are clamped to [<see cref="Floor"/>, 1 − <see cref="Floor"/>] before the logit.</summary>
    public const double Floor = 1e-7;

    /// <summary>The calibrated probability of one raw output.</summary>
    public float Apply(float raw)
    {
        if (float.IsNaN(raw))
        {
            return raw;
        }

        var p = Math.Clamp((double)raw, Floor, 1 - Floor);
        return (float)(1 / (1 + Math.Exp(-((Slope * Math.Log(p / (1 - p))) + Intercept))));
    }

    /// <summary>Calibrates <paramref name="values"/> in place.</summary>
    public void ApplyInPlace(Span<float> values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = Apply(values[i]);
        }
    }

    /// <summary>
    /// Fits Platt scaling to raw outputs <paramref name="raw"/> and 0/1 <paramref name="labels"/> by Newton's method on
    /// the log-likelihood (two parameters, a tiny ridge for separable data). At the optimum the mean calibrated
    /// probability equals the observed default rate of these rows.
    /// </summary>
    public static ProbabilityCalibration FitPlatt(ReadOnlySpan<float> raw, ReadOnlySpan<float> labels, string fittedOn)
    {
        if (raw.Length != labels.Length || raw.Length == 0)
        {
            throw new ArgumentException("Calibration needs as many labels as outputs, and at least one row.");
        }

        var n = raw.Length;
        var x = new double[n];
        for (var i = 0; i < n; i++)
        {
            var p = Math.Clamp((double)raw[i], Floor, 1 - Floor);
            x[i] = Math.Log(p / (1 - p));
        }

        const double ridge = 1e-6;
        double a = 1, b = 0;
        for (var iteration = 0; iteration < 100; iteration++)
        {
            double ga = -ridge * (a - 1), gb = 0, haa = ridge, hab = 0, hbb = ridge;
            for (var i = 0; i < n; i++)
            {
                var q = 1 / (1 + Math.Exp(-((a * x[i]) + b)));
                var residual = labels[i] - q;
                var w = q * (1 - q);
                ga += residual * x[i];
                gb += residual;
                haa += w * x[i] * x[i];
                hab += w * x[i];
                hbb += w;
            }

            var det = (haa * hbb) - (hab * hab);
            if (!(det > 0))
            {
                break;
            }

            var da = ((hbb * ga) - (hab * gb)) / det;
            var db = ((haa * gb) - (hab * ga)) / det;
            a += da;
            b += db;
            if (Math.Abs(da) + Math.Abs(db) < 1e-10)
            {
                break;
            }
        }

        return new ProbabilityCalibration { Slope = a, Intercept = b, FittedOn = fittedOn, Rows = n };
    }
}
