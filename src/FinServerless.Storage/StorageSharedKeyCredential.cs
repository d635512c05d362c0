using System.Security.Cryptography;
using System.Text;

namespace FinServerless.Storage;

/// <summary>An account name and key for SharedKey signing (Azurite and development; Azure uses Entra ID).</summary>
public sealed class StorageSharedKeyCredential
{
    private readonly byte[] _key;

    /// <summary>Creates the credential; the key is the base64 account key.</summary>
    public StorageSharedKeyCredential(string accountName, string accountKey)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(accountName);
        ArgumentException.ThrowIfNullOrWhiteSpace(accountKey);
        AccountName = accountName;
        try
        {
            _key = Convert.FromBase64String(accountKey);
        }
        catch (FormatException ex)
        {
            throw new ArgumentException($"The account key for storage account '{accountName}' is not valid base64. Copy it again from the portal or the connection string.", nameof(accountKey), ex);
        }
    }

    /// <summary>The storage account name.</summary>
    public string AccountName { get; }

    /// <summary>Base64 HMAC-SHA256 of the string to sign, with the account key.</summary>
    internal string Sign(string stringToSign) =>
        Convert.ToBase64String(HMACSHA256.HashData(_key, Encoding.UTF8.GetBytes(stringToSign)));

    /// <inheritdoc/>
    public override string ToString() => $"SharedKey({AccountName})";
}
