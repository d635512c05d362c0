using System.Text;

namespace FinServerless.Contracts;

/// <summary>What a <see cref="StorageName"/> names; each kind has its own rules.</summary>
public enum NameKind
{
    /// <summary>A partner: lowercase letters, digits and single hyphens, at most 40 characters (it becomes the container <c>inbox-{partner}</c>).</summary>
    Partner,

    /// <summary>A dataset: letters, digits, <c>-</c> and <c>_</c>, at most 64 characters.</summary>
    Dataset,

    /// <summary>A file in an inbox dataset folder or a model folder: letters, digits, <c>.</c>, <c>-</c>, <c>_</c>, at most 200 characters, one segment.</summary>
    File,

    /// <summary>A model: letters, digits, <c>-</c> and <c>_</c>, at most 64 characters.</summary>
    Model,

    /// <summary>A model version: letters, digits, <c>.</c>, <c>-</c>, <c>_</c>, at most 64 characters; not <c>champion</c> or <c>latest</c>.</summary>
    Version,

    /// <summary>A run id: letters, digits, <c>-</c> and <c>_</c>, at most 64 characters.</summary>
    Run,
}

/// <summary>
/// One segment of a storage path (partner, dataset, file, model, version or run id), validated once where it
/// enters the platform: an event, an HTTP route or body, a command line, a manifest read back. A value of this
/// type holds only ASCII letters, digits and the few punctuation marks its kind allows; it is never empty, never
/// <c>.</c> or <c>..</c>, holds no slash, backslash, percent sign, control or non-ASCII character (so neither
/// encoded nor look-alike dots), and does not start with a dot or a hyphen. Joined under its container's
/// prefix it therefore resolves under that prefix and nowhere else.
/// </summary>
public sealed class StorageName : IEquatable<StorageName>
{
    private StorageName(NameKind kind, string value)
    {
        Kind = kind;
        Value = value;
    }

    /// <summary>What it names.</summary>
    public NameKind Kind { get; }

    /// <summary>The validated text.</summary>
    public string Value { get; }

    /// <summary>Parses <paramref name="text"/> as a name of <paramref name="kind"/>; <paramref name="field"/> names where it came from in the error.</summary>
    /// <exception cref="InvalidNameException">The text breaks a rule; the message names the field and the rule.</exception>
    public static StorageName Parse(NameKind kind, string? text, string field) =>
        TryParse(kind, text, out var name, out var reason) ? name : throw new InvalidNameException(field, kind, reason);

    /// <summary>Parses a partner name.</summary>
    public static StorageName Partner(string? text, string field = "partner") => Parse(NameKind.Partner, text, field);

    /// <summary>Parses a dataset name.</summary>
    public static StorageName Dataset(string? text, string field = "dataset") => Parse(NameKind.Dataset, text, field);

    /// <summary>Parses a file name.</summary>
    public static StorageName File(string? text, string field = "file") => Parse(NameKind.File, text, field);

    /// <summary>Parses a model name.</summary>
    public static StorageName Model(string? text, string field = "model") => Parse(NameKind.Model, text, field);

    /// <summary>Parses a model version.</summary>
    public static StorageName Version(string? text, string field = "version") => Parse(NameKind.Version, text, field);

    /// <summary>Parses a run id.</summary>
    public static StorageName Run(string? text, string field = "run") => Parse(NameKind.Run, text, field);

    /// <summary>Parses without throwing; <paramref name="reason"/> says what is wrong.</summary>
    public static bool TryParse(NameKind kind, string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out StorageName? name, out string reason)
    {
        name = null;
        reason = Check(kind, text);
        if (reason.Length > 0)
        {
            return false;
        }

        name = new StorageName(kind, text!);
        return true;
    }

    /// <summary>The longest name of a kind.</summary>
    public static int MaxLength(NameKind kind) => kind switch
    {
        NameKind.Partner => 40,
        NameKind.File => 200,
        _ => 64,
    };

    /// <summary>The punctuation a kind allows besides ASCII letters and digits.</summary>
    private static string Punctuation(NameKind kind) => kind switch
    {
        NameKind.Partner => "-",
        NameKind.File or NameKind.Version => ".-_",
        _ => "-_",
    };

    private static string Check(NameKind kind, string? text)
    {
        if (string.IsNullOrEmpty(text))
        {
            return "it is empty";
        }

        var max = MaxLength(kind);
        if (text.Length > max)
        {
            return $"it is {text.Length} characters long; at most {max} are allowed";
        }

        var punctuation = Punctuation(kind);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            var letter = kind == NameKind.Partner ? c is >= 'a' and <= 'z' : char.IsAsciiLetter(c);
            if (!letter && !char.IsAsciiDigit(c) && !punctuation.Contains(c, StringComparison.Ordinal))
            {
                return $"character {Describe(c)} at position {i + 1} is not allowed (allowed: {Allowed(kind)})";
            }
        }

        if (!char.IsAsciiLetterOrDigit(text[0]))
        {
            return "it must start with a letter or digit";
        }

        if (text[^1] is '.' or '-')
        {
            return $"it must not end with '{text[^1]}'";
        }

        if (text.Contains("..", StringComparison.Ordinal))
        {
            return "it must not contain '..'";
        }

        if (kind == NameKind.Partner && text.Contains("--", StringComparison.Ordinal))
        {
            return "it must not contain '--' (container names forbid consecutive hyphens)";
        }

        if (kind == NameKind.Version && (text.Equals("champion", StringComparison.OrdinalIgnoreCase) || text.Equals("latest", StringComparison.OrdinalIgnoreCase)))
        {
            return $"'{text}' is reserved (model references use it as an alias)";
        }

        return string.Empty;
    }

    private static string Allowed(NameKind kind) =>
        (kind == NameKind.Partner ? "a-z, 0-9" : "A-Z, a-z, 0-9") + string.Concat(Punctuation(kind).Select(p => $", '{p}'"));

    private static string Describe(char c) =>
        c is >= ' ' and <= '~' ? $"'{c}'" : $"U+{(int)c:X4}";

    /// <summary>Renders untrusted text for an error message: printable ASCII as is, anything else escaped, at most 80 characters.</summary>
    public static string Quote(string? text)
    {
        if (text is null)
        {
            return "(none)";
        }

        var sb = new StringBuilder(Math.Min(text.Length, 80) + 2).Append('\'');
        foreach (var c in text.Length > 80 ? text[..80] : text)
        {
            _ = c is >= ' ' and <= '~' && c != '\\' ? sb.Append(c) : sb.Append($"\\u{(int)c:X4}");
        }

        return sb.Append(text.Length > 80 ? "'…" : "'").ToString();
    }

    /// <summary>Throws when <paramref name="name"/> is null or of another kind (a programming error, not bad input).</summary>
    internal static void Expect(StorageName name, NameKind kind)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Kind != kind)
        {
            throw new ArgumentException($"Expected a {kind} name, got a {name.Kind} name.", nameof(name));
        }
    }

    /// <inheritdoc/>
    public override string ToString() => Value;

    /// <inheritdoc/>
    public bool Equals(StorageName? other) => other is not null && other.Kind == Kind && string.Equals(other.Value, Value, StringComparison.Ordinal);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as StorageName);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Kind, StringComparer.Ordinal.GetHashCode(Value));

    /// <summary>Equality by kind and text.</summary>
    public static bool operator ==(StorageName? left, StorageName? right) => left is null ? right is null : left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(StorageName? left, StorageName? right) => !(left == right);
}

/// <summary>A name that breaks its kind's rules; <see cref="Field"/> says which input carried it.</summary>
public sealed class InvalidNameException(string field, NameKind kind, string reason)
    : ArgumentException($"{field}: not a valid {kind.ToString().ToLowerInvariant()} name: {reason}.")
{
    /// <summary>The input that carried the name (a JSON field, route parameter, option or path part).</summary>
    public string Field { get; } = field;

    /// <summary>The kind of name expected.</summary>
    public NameKind Kind { get; } = kind;

    /// <summary>The rule broken.</summary>
    public string Reason { get; } = reason;
}
