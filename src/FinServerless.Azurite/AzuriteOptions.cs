namespace FinServerless.Azurite;

/// <summary>How to start Azurite.</summary>
public sealed class AzuriteOptions
{
    /// <summary>Keep all data in memory instead of a temporary folder (fast; lost when Azurite stops).</summary>
    public bool InMemory { get; init; }

    /// <summary>Workspace folder; a new temporary folder (deleted on stop) when null and not in memory.</summary>
    public string? Location { get; init; }

    /// <summary>Ports; 0 lets the operating system choose free ones so parallel runs never collide.</summary>
    public int BlobPort { get; init; }

    /// <inheritdoc cref="BlobPort"/>
    public int QueuePort { get; init; }

    /// <inheritdoc cref="BlobPort"/>
    public int TablePort { get; init; }

    /// <summary>
    /// Accept any x-ms-version (default true): the official SDKs (Azure.Storage.Blobs 12.30 sends 2026-10-06, the
    /// latest JavaScript SDK likewise) are newer than Azurite 3.37, which otherwise refuses every request.
    /// </summary>
    public bool SkipApiVersionCheck { get; init; } = true;

    /// <summary>How long to wait for Azurite to listen and answer.</summary>
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);
}
