using Azure.Storage.Blobs;
using Azure.Storage.Sas;
using FinServerless.Contracts;

namespace FinServerless.Connections;

/// <summary>A partner's inbox SAS, and how it was signed.</summary>
/// <param name="Uri">The container URL with the signature.</param>
/// <param name="ExpiresOn">When it stops working.</param>
/// <param name="SignedWith">"accountKey" or "userDelegationKey".</param>
public sealed record PartnerSas(Uri Uri, DateTimeOffset ExpiresOn, string SignedWith);

/// <summary>
/// The one SAS a partner gets: create and write blobs in its own inbox container, nothing else (no read, list or
/// delete, no other container), for a limited time, HTTPS only outside development. Signed with the account key
/// where the client holds one (Azurite, development); with a user delegation key otherwise (Azure, where shared
/// keys are off).
/// </summary>
public static class PartnerInboxSas
{
    /// <summary>The builder: permissions, container scope, validity.</summary>
    public static BlobSasBuilder Builder(StorageName partner, TimeSpan validFor, bool allowHttp = false)
    {
        var now = DateTimeOffset.UtcNow;
        var builder = new BlobSasBuilder(BlobContainerSasPermissions.Create | BlobContainerSasPermissions.Write, now.Add(validFor))
        {
            BlobContainerName = StorageLayout.Inbox(partner),
            Resource = "c",
            StartsOn = now.AddMinutes(-5),
            Protocol = allowHttp ? SasProtocol.HttpsAndHttp : SasProtocol.Https,
        };
        return builder;
    }

    /// <summary>Signs the partner's inbox SAS with whatever the service client can sign with.</summary>
    public static async Task<PartnerSas> CreateAsync(BlobServiceClient service, StorageName partner, TimeSpan validFor, bool allowHttp = false, CancellationToken cancellationToken = default)
    {
        var builder = Builder(partner, validFor, allowHttp);
        var inbox = service.GetBlobContainerClient(builder.BlobContainerName);
        if (inbox.CanGenerateSasUri)
        {
            return new PartnerSas(inbox.GenerateSasUri(builder), builder.ExpiresOn, "accountKey");
        }

        var key = (await service.GetUserDelegationKeyAsync(builder.StartsOn, builder.ExpiresOn, cancellationToken).ConfigureAwait(false)).Value;
        var uri = new BlobUriBuilder(inbox.Uri) { Sas = builder.ToSasQueryParameters(key, service.AccountName) }.ToUri();
        return new PartnerSas(uri, builder.ExpiresOn, "userDelegationKey");
    }
}
