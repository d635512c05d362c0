using FinServerless.DevHost;
using FinServerless.IsolatedHost;
using FinServerless.Native;
using Microsoft.Extensions.Logging;

namespace FinServerless.Functions.Tests;

/// <summary>Where the built function app and trainer are, in the configuration these tests were built in.</summary>
internal static class AppLayout
{
    private static string Configuration => AppContext.BaseDirectory.Contains("/bin/Debug/", StringComparison.Ordinal) ? "Debug" : "Release";

    public static string AppRoot => Path.Combine(RepositoryLayout.Root, "functions", "FinServerless.Functions", "bin", Configuration, "net10.0");

    /// <summary>The host's small test app: an HTTP function that sleeps, for the stop tests.</summary>
    public static string TestAppRoot => Path.Combine(RepositoryLayout.Root, "tests", "FinServerless.IsolatedHost.TestApp", "bin", Configuration, "net10.0");

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

/// <summary>The function app under the host in this process (the WebJobs SDK, the real extensions, the app's worker), on a free port.</summary>
internal static class AppHost
{
    public static Task<IsolatedFunctionsHost> StartAsync(IReadOnlyDictionary<string, string> settings, Action<string> log)
    {
        var path = LocalSettings.Write(Path.Combine(Path.GetTempPath(), $"finserverless-test-{Guid.NewGuid():N}.settings.json"), settings);
        return IsolatedFunctionsHost.StartAsync(LocalSettings.HostOptions(AppLayout.AppRoot, path) with
        {
            Port = 0,
            Logging = b => b.AddProvider(new LineLoggerProvider(log)),
        });
    }
}
