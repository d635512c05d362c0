using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace FinServerless.Training.Trainers;

/// <summary>
/// A trainer's hyperparameters from JSON, with defaults. Unknown names and values of the wrong type fail with a
/// bad-input error naming the parameter, so a typo never trains a silently different model.
/// </summary>
public sealed class Hyperparameters
{
    private readonly JsonObject _values;
    private readonly string _trainer;
    private readonly SortedDictionary<string, string> _resolved = new(StringComparer.Ordinal);

    /// <summary>Wraps <paramref name="values"/>; every key must be in <paramref name="known"/>.</summary>
    public Hyperparameters(string trainer, JsonObject? values, IReadOnlyCollection<string> known)
    {
        _trainer = trainer;
        _values = values ?? [];
        var unknown = _values.Select(p => p.Key).Where(k => !known.Contains(k)).ToList();
        if (unknown.Count > 0)
        {
            throw new TrainingInputException(
                $"Unknown {trainer} parameter(s) {string.Join(", ", unknown.Select(u => $"'{u}'"))}; known: {string.Join(", ", known.Order())}.");
        }
    }

    /// <summary>Parses a JSON object given on the command line or in a setting.</summary>
    public static JsonObject? ParseJson(string? json, string setting)
    {
        if (string.IsNullOrWhiteSpace(json))
        {
            return null;
        }

        try
        {
            return JsonNode.Parse(json) as JsonObject ?? throw new TrainingInputException($"{setting} must be a JSON object, for example {{\"max_depth\": 4}}.");
        }
        catch (JsonException ex)
        {
            throw new TrainingInputException($"{setting} is not valid JSON: {ex.Message}", ex);
        }
    }

    /// <summary>The values actually used, defaults included (recorded in the model manifest).</summary>
    public IReadOnlyDictionary<string, string> Resolved => _resolved;

    /// <summary>A number, within [<paramref name="min"/>, <paramref name="max"/>].</summary>
    public double Number(string name, double fallback, double min = double.MinValue, double max = double.MaxValue)
    {
        var value = fallback;
        if (_values[name] is { } node)
        {
            if (node.GetValueKind() != JsonValueKind.Number
                || !double.TryParse(node.ToJsonString(), NumberStyles.Float, CultureInfo.InvariantCulture, out value))
            {
                throw new TrainingInputException($"{_trainer} parameter '{name}' must be a number (got {node.ToJsonString()}).");
            }
        }

        if (value < min || value > max || double.IsNaN(value))
        {
            throw new TrainingInputException($"{_trainer} parameter '{name}' must be between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)} (got {value.ToString(CultureInfo.InvariantCulture)}).");
        }

        _resolved[name] = value.ToString(CultureInfo.InvariantCulture);
        return value;
    }

    /// <summary>A whole number.</summary>
    public int Integer(string name, int fallback, int min = int.MinValue, int max = int.MaxValue)
    {
        var value = Number(name, fallback, min, max);
        if (value != Math.Floor(value))
        {
            throw new TrainingInputException($"{_trainer} parameter '{name}' must be a whole number (got {value.ToString(CultureInfo.InvariantCulture)}).");
        }

        return (int)value;
    }

    /// <summary>A list of positive whole numbers (layer sizes).</summary>
    public int[] Sizes(string name, int[] fallback)
    {
        var value = fallback;
        if (_values[name] is { } node)
        {
            try
            {
                value = node.Deserialize<int[]>() ?? fallback;
            }
            catch (JsonException)
            {
                throw new TrainingInputException($"{_trainer} parameter '{name}' must be a list of whole numbers, for example [64, 32] (got {node.ToJsonString()}).");
            }
        }

        if (value.Any(v => v <= 0))
        {
            throw new TrainingInputException($"{_trainer} parameter '{name}' must list positive sizes (got [{string.Join(", ", value)}]).");
        }

        _resolved[name] = $"[{string.Join(",", value)}]";
        return value;
    }

    /// <summary>A number or a keyword (for example "balanced").</summary>
    public (double? Number, string? Keyword) NumberOrKeyword(string name, string fallback, params string[] keywords)
    {
        if (_values[name] is JsonValue v && v.TryGetValue<string>(out var s))
        {
            if (!keywords.Contains(s))
            {
                throw new TrainingInputException($"{_trainer} parameter '{name}' must be a number or one of {string.Join(", ", keywords.Select(k => $"\"{k}\""))} (got \"{s}\").");
            }

            _resolved[name] = s;
            return (null, s);
        }

        if (_values[name] is null)
        {
            _resolved[name] = fallback;
            return (null, fallback);
        }

        return (Number(name, 0, 0), null);
    }
}
