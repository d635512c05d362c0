using FinServerless.Native;

namespace FinServerless.Functions.Tests;

/// <summary>Where the built function app and trainer are, in the configuration these tests were built in.</summary>
internal static class AppLayout
{
    private static string Configuration => AppContext.BaseDirectory.Contains("/bin/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";

    public static string AppRoot => Path.Combine(RepositoryLayout.Root, "functions", "FinServerless.Functions", "bin", Configuration, "net10.0");

    public static string FanOutAppRoot => Path.Combine(RepositoryLayout.Root, "tests", "FinServerless.DevHost.FanOutApp", "bin", Configuration, "net10.0");

    public static string TrainerCommand => $"dotnet {Path.Combine(RepositoryLayout.Root, "training-container", "src", "FinServerless.Trainer", "bin", Configuration, "net10.0", "finserverless-train.dll")}";

    public static string DevHostDll => Path.Combine(RepositoryLayout.Root, "functions", "FinServerless.DevHost", "bin", Configuration, "net10.0", "finserverless-devhost.dll");

    public static Dictionary<string, string> Settings(string connectionString) => new()
    {
        ["AzureWebJobsStorage"] = connectionString,
        ["FINSERVERLESS_TRAINER_COMMAND"] = TrainerCommand,
        ["FINSERVERLESS_TRAINING_POLL_SECONDS"] = "1",
        ["FINSERVERLESS_RESCORE_SCHEDULE"] = "0 0 2 * * *",
    };
}
