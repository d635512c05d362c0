using Azure.Core;

namespace FinServerless.Storage;

/// <summary>Options shared by the blob and queue clients: service version, retries, transfer sizes.</summary>
public sealed class StorageClientOptions : ClientOptions
{
    /// <summary>The Storage REST version we speak; Azurite 3.35+ and Azure accept it.</summary>
    public const string DefaultServiceVersion = "2025-11-05";

    /// <summary>Creates options with retries suited to storage: exponential backoff, 6 tries, 100 s per try.</summary>
    public StorageClientOptions()
    {
        Retry.Mode = RetryMode.Exponential;
        Retry.MaxRetries = 5;
        Retry.Delay = TimeSpan.FromMilliseconds(400);
        Retry.MaxDelay = TimeSpan.FromSeconds(20);
        Retry.NetworkTimeout = TimeSpan.FromSeconds(100);
        Diagnostics.IsLoggingContentEnabled = false;
        Diagnostics.IsTelemetryEnabled = false;
    }

    /// <summary>The <c>x-ms-version</c> header sent with every request.</summary>
    public string ServiceVersion { get; set; } = DefaultServiceVersion;
}
