namespace FinServerless.Testing;

/// <summary>What the fault proxy does to each new connection, by probability.</summary>
public sealed record FaultPlan
{
    /// <summary>Share of connections answered "503 Server Busy" without reaching the server.</summary>
    public double Reply503 { get; init; }

    /// <summary>Share of connections closed as soon as the client sends anything.</summary>
    public double Drop { get; init; }

    /// <summary>Share of connections held for <see cref="DelayBy"/> before being forwarded.</summary>
    public double Delay { get; init; }

    /// <summary>How long a delayed connection waits.</summary>
    public TimeSpan DelayBy { get; init; } = TimeSpan.FromMilliseconds(300);

    /// <summary>
    /// When set, each forwarded connection is cut after a random number of response bytes between
    /// <see cref="CutAfterBytesMin"/> and this value: a broken connection in the middle of a body.
    /// </summary>
    public long? CutAfterBytesMax { get; init; }

    /// <summary>Lower bound of the cut point.</summary>
    public long CutAfterBytesMin { get; init; } = 1;

    /// <summary>Forward everything untouched.</summary>
    public static FaultPlan None { get; } = new();
}
