using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace FinServerless.Storage.Sas;

/// <summary>Permissions a blob SAS grants, written in the service's canonical order (r a c w d l).</summary>
[Flags]
public enum BlobSasPermissions
{
    /// <summary>Nothing.</summary>
    None = 0,
    /// <summary>Read blobs.</summary>
    Read = 1,
    /// <summary>Append blocks.</summary>
    Add = 2,
    /// <summary>Create new blobs (not overwrite).</summary>
    Create = 4,
    /// <summary>Write blobs (including overwrite).</summary>
    Write = 8,
    /// <summary>Delete blobs.</summary>
    Delete = 16,
    /// <summary>List blobs in the container.</summary>
    List = 32,
}

/// <summary>
/// Builds a container- or blob-scoped SAS, signed either with the account key (service SAS; Azurite and
/// development) or with a user delegation key (Entra ID; what Azure uses when shared keys are disabled).
/// </summary>
public sealed record BlobSasBuilder
{
    /// <summary>The container the SAS reaches.</summary>
    public required string ContainerName { get; init; }

    /// <summary>A single blob, or null for the whole container.</summary>
    public string? BlobName { get; init; }

    /// <summary>What the SAS allows.</summary>
    public required BlobSasPermissions Permissions { get; init; }

    /// <summary>When the SAS stops working.</summary>
    public required DateTimeOffset ExpiresOn { get; init; }

    /// <summary>When the SAS starts working (null: immediately). Set a few minutes early to absorb clock skew.</summary>
    public DateTimeOffset? StartsOn { get; init; }

    /// <summary>"https" (default; HTTPS only) or "https,http" (needed for Azurite over plain HTTP).</summary>
    public string Protocol { get; init; } = "https";

    /// <summary>The signed version (sv).</summary>
    public string Version { get; init; } = StorageClientOptions.DefaultServiceVersion;

    /// <summary>A partner's inbox SAS: create and write blobs in one container, nothing else, for a limited time.</summary>
    public static BlobSasBuilder ForPartnerInbox(string containerName, TimeSpan validFor, bool allowHttp = false) => new()
    {
        ContainerName = containerName,
        Permissions = BlobSasPermissions.Create | BlobSasPermissions.Write,
        StartsOn = DateTimeOffset.UtcNow.AddMinutes(-5),
        ExpiresOn = DateTimeOffset.UtcNow.Add(validFor),
        Protocol = allowHttp ? "https,http" : "https",
    };

    /// <summary>The permission string, for example "cw".</summary>
    public string PermissionString
    {
        get
        {
            var sb = new StringBuilder();
            foreach (var (flag, letter) in new[]
                     {
                         (BlobSasPermissions.Read, 'r'), (BlobSasPermissions.Add, 'a'), (BlobSasPermissions.Create, 'c'),
                         (BlobSasPermissions.Write, 'w'), (BlobSasPermissions.Delete, 'd'), (BlobSasPermissions.List, 'l'),
                     })
            {
                if (Permissions.HasFlag(flag))
                {
                    sb.Append(letter);
                }
            }

            return sb.ToString();
        }
    }

    private string Resource => BlobName is null ? "c" : "b";

    private string CanonicalResource(string accountName) =>
        $"/blob/{accountName}/{ContainerName}" + (BlobName is null ? string.Empty : "/" + BlobName);

    /// <summary>The SAS query string (no leading '?'), signed with the account key.</summary>
    public string ToSasQuery(StorageSharedKeyCredential key)
    {
        Validate();
        var start = Format(StartsOn);
        var expiry = Format(ExpiresOn);
        var stringToSign = string.Join('\n',
            PermissionString, start, expiry, CanonicalResource(key.AccountName), string.Empty /* si */, string.Empty /* sip */,
            Protocol, Version, Resource, string.Empty /* snapshot */, string.Empty /* ses */,
            string.Empty, string.Empty, string.Empty, string.Empty, string.Empty /* rscc rscd rsce rscl rsct */);
        return Query(start, expiry, key.Sign(stringToSign), null);
    }

    /// <summary>The SAS query string (no leading '?'), signed with a user delegation key from Entra ID.</summary>
    public string ToSasQuery(UserDelegationKey key, string accountName)
    {
        Validate();
        var start = Format(StartsOn);
        var expiry = Format(ExpiresOn);
        var stringToSign = string.Join('\n',
            PermissionString, start, expiry, CanonicalResource(accountName),
            key.SignedObjectId, key.SignedTenantId, key.SignedStartsOn, key.SignedExpiresOn, key.SignedService, key.SignedVersion,
            string.Empty /* saoid */, string.Empty /* suoid */, string.Empty /* scid */, string.Empty /* sdutid */, string.Empty /* sduoid */,
            string.Empty /* sip */, Protocol, Version, Resource, string.Empty /* version timestamp */, string.Empty /* ses */,
            string.Empty, string.Empty, string.Empty, string.Empty, string.Empty /* rscc rscd rsce rscl rsct */);
        var signature = Convert.ToBase64String(HMACSHA256.HashData(Convert.FromBase64String(key.Value), Encoding.UTF8.GetBytes(stringToSign)));
        return Query(start, expiry, signature, key);
    }

    private void Validate()
    {
        if (Permissions == BlobSasPermissions.None)
        {
            throw new InvalidOperationException($"A SAS for container '{ContainerName}' must grant at least one permission.");
        }

        if (ExpiresOn <= (StartsOn ?? DateTimeOffset.UtcNow))
        {
            throw new InvalidOperationException($"A SAS for container '{ContainerName}' expires at {ExpiresOn:u}, which is not after its start.");
        }

        if (Protocol is not ("https" or "https,http"))
        {
            throw new InvalidOperationException($"SAS protocol '{Protocol}' is not valid: use 'https' or 'https,http'.");
        }
    }

    private string Query(string start, string expiry, string signature, UserDelegationKey? key)
    {
        var parts = new List<(string, string)> { ("sv", Version) };
        if (start.Length > 0)
        {
            parts.Add(("st", start));
        }

        parts.Add(("se", expiry));
        parts.Add(("sr", Resource));
        parts.Add(("sp", PermissionString));
        parts.Add(("spr", Protocol));
        if (key is not null)
        {
            parts.AddRange([
                ("skoid", key.SignedObjectId), ("sktid", key.SignedTenantId), ("skt", key.SignedStartsOn),
                ("ske", key.SignedExpiresOn), ("sks", key.SignedService), ("skv", key.SignedVersion),
            ]);
        }

        parts.Add(("sig", signature));
        return string.Join('&', parts.Select(p => $"{p.Item1}={Uri.EscapeDataString(p.Item2)}"));
    }

    private static string Format(DateTimeOffset? time) =>
        time is null ? string.Empty : time.Value.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);
}
