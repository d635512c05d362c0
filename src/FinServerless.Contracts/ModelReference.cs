namespace FinServerless.Contracts;

/// <summary>
/// A reference to a model as callers write it: <c>name@version</c>, or <c>name@champion</c> for whichever version
/// is the champion when it is resolved. Both parts are validated <see cref="StorageName"/>s, so a reference can
/// only ever resolve under <c>models/{name}/</c>.
/// </summary>
public sealed record ModelReference
{
    private ModelReference(StorageName model, StorageName? version)
    {
        Model = model;
        Version = version;
    }

    /// <summary>The alias that means "the current champion".</summary>
    public const string ChampionAlias = "champion";

    /// <summary>The model.</summary>
    public StorageName Model { get; }

    /// <summary>The version; null for the champion alias.</summary>
    public StorageName? Version { get; }

    /// <summary>Whether this names the champion rather than a version.</summary>
    public bool IsChampion => Version is null;

    /// <summary>A reference to one version.</summary>
    public static ModelReference Of(StorageName model, StorageName version)
    {
        StorageName.Expect(model, NameKind.Model);
        StorageName.Expect(version, NameKind.Version);
        return new ModelReference(model, version);
    }

    /// <summary>A reference to the champion of a model.</summary>
    public static ModelReference ChampionOf(StorageName model)
    {
        StorageName.Expect(model, NameKind.Model);
        return new ModelReference(model, null);
    }

    /// <summary>Parses <c>name@version</c> or <c>name@champion</c>; <paramref name="field"/> names the input in errors.</summary>
    /// <exception cref="InvalidNameException">Either part is not a valid name, or the <c>@</c> is missing.</exception>
    public static ModelReference Parse(string? text, string field = "model")
    {
        var at = text?.IndexOf('@') ?? -1;
        if (text is null || at <= 0 || at == text.Length - 1 || text.IndexOf('@', at + 1) >= 0)
        {
            throw new InvalidNameException(field, NameKind.Model, "a model reference is name@version or name@champion");
        }

        var model = StorageName.Model(text[..at], field);
        var version = text[(at + 1)..];
        return version == ChampionAlias ? new ModelReference(model, null) : new ModelReference(model, StorageName.Version(version, field));
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Model}@{Version?.Value ?? ChampionAlias}";
}
