namespace FinServerless.Native;

/// <summary>Finds the repository root (the folder holding FinServerless.sln) from the running application.</summary>
public static class RepositoryLayout
{
    /// <summary>Setting that names the repository root explicitly.</summary>
    public const string RootSetting = "FINSERVERLESS_REPO_ROOT";

    /// <summary>Walks up from the application folder and the working directory to find the repository root.</summary>
    public static bool TryFindRoot(out string root)
    {
        var configured = Environment.GetEnvironmentVariable(RootSetting);
        if (!string.IsNullOrWhiteSpace(configured) && File.Exists(Path.Combine(configured, "FinServerless.sln")))
        {
            root = configured;
            return true;
        }

        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "FinServerless.sln")))
                {
                    root = dir.FullName;
                    return true;
                }
            }
        }

        root = string.Empty;
        return false;
    }

    /// <summary>
    /// Where Give Me Some Credit's training file lies when the repository sits beside ../shared (CI, this
    /// project's machines); it is not redistributable, so a user's checkout does not have it.
    /// </summary>
    public static string GmscTrainingPath => Path.GetFullPath(Path.Combine(Root, "..", "shared", "datasets", "give_me_some_credit", "cs-training.csv"));

    /// <summary>The repository root, or a clear error naming the setting to use.</summary>
    public static string Root => TryFindRoot(out var root)
        ? root
        : throw new InvalidOperationException(
            $"Could not find the FinServerless repository (FinServerless.sln) above {AppContext.BaseDirectory}. Set {RootSetting} to the repository folder.");
}
