using Azure.Core;

namespace FinServerless.Storage;

/// <summary>How a client authenticates: a shared key, an Entra ID token, a SAS, or nothing.</summary>
public abstract record StorageCredential
{
    private StorageCredential()
    {
    }

    /// <summary>Shared key signing (Azurite, development).</summary>
    public sealed record Key(StorageSharedKeyCredential Credential) : StorageCredential;

    /// <summary>Entra ID bearer tokens (managed identity in Azure).</summary>
    public sealed record Token(TokenCredential Credential) : StorageCredential;

    /// <summary>A SAS query string appended to every request.</summary>
    public sealed record SharedAccessSignature(string Query) : StorageCredential
    {
        /// <inheritdoc/>
        public override string ToString() => "SharedAccessSignature(***)";
    }

    /// <summary>No authentication (public endpoints only).</summary>
    public sealed record Anonymous : StorageCredential;

    /// <summary>Implicit conversion for convenience.</summary>
    public static implicit operator StorageCredential(StorageSharedKeyCredential key) => new Key(key);
}
