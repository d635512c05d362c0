using FinServerless.Native;

namespace FinServerless.Testing;

/// <summary>Licensed datasets that only ../shared holds (present in CI, absent on a user's machine).</summary>
public static class SharedDatasets
{
    /// <summary>Give Me Some Credit's training file, or null with the reason a test prints when it skips.</summary>
    public static string? GmscTraining(out string reason)
    {
        var path = RepositoryLayout.GmscTrainingPath;
        reason = $"needs {path} (Give Me Some Credit, not redistributable; present in CI)";
        return File.Exists(path) ? path : null;
    }
}
