namespace FinServerless.Storage.Sas;

/// <summary>A key Azure Storage issues to an Entra identity for signing user delegation SAS tokens.</summary>
public sealed record UserDelegationKey(
    string SignedObjectId,
    string SignedTenantId,
    string SignedStartsOn,
    string SignedExpiresOn,
    string SignedService,
    string SignedVersion,
    string Value)
{
    /// <inheritdoc/>
    public override string ToString() => $"UserDelegationKey(oid={SignedObjectId}, expires={SignedExpiresOn})";
}
