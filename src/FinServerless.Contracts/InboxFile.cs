namespace FinServerless.Contracts;

/// <summary>
/// A file a partner dropped: <c>inbox-{partner}/{dataset}/{file}</c>, every part validated. Built only by
/// <see cref="Parse"/> (from an event's container and blob name, or a command line) or from names already validated.
/// </summary>
public sealed record InboxFile
{
    /// <summary>A file from its validated parts.</summary>
    public InboxFile(StorageName partner, StorageName dataset, StorageName file)
    {
        StorageName.Expect(partner, NameKind.Partner);
        StorageName.Expect(dataset, NameKind.Dataset);
        StorageName.Expect(file, NameKind.File);
        (Partner, Dataset, File) = (partner, dataset, file);
    }

    /// <summary>The partner (and so the inbox container).</summary>
    public StorageName Partner { get; }

    /// <summary>The dataset folder.</summary>
    public StorageName Dataset { get; }

    /// <summary>The file name within the dataset folder.</summary>
    public StorageName File { get; }

    /// <summary>The inbox container, <c>inbox-{partner}</c>.</summary>
    public string Container => StorageLayout.Inbox(Partner);

    /// <summary>The blob name within the container, <c>{dataset}/{file}</c>.</summary>
    public string BlobName => StorageLayout.InboxBlob(Dataset, File);

    /// <summary><c>inbox-{partner}/{dataset}/{file}</c>.</summary>
    public string Path => $"{Container}/{BlobName}";

    /// <summary>Parses a container and blob name (as an event or a command line gives them).</summary>
    /// <exception cref="InvalidNameException">Either is not a well-formed inbox name.</exception>
    public static InboxFile Parse(string? container, string? blobName)
    {
        var partner = StorageLayout.PartnerOfInbox(container);
        var (dataset, file) = StorageLayout.ParseInboxBlob(blobName);
        return new InboxFile(partner, dataset, file);
    }

    /// <inheritdoc/>
    public override string ToString() => Path;
}
