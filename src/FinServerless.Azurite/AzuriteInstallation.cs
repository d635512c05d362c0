using FinServerless.Native;

namespace FinServerless.Azurite;

/// <summary>Finds Node.js and the Azurite script installed by eng/setup.sh.</summary>
public static class AzuriteInstallation
{
    /// <summary>Setting naming azurite.js explicitly.</summary>
    public const string ScriptSetting = "FINSERVERLESS_AZURITE_PATH";

    /// <summary>Setting naming the node executable explicitly.</summary>
    public const string NodeSetting = "FINSERVERLESS_NODE_PATH";

    /// <summary>Returns the node executable and the azurite.js path, or throws with how to install them.</summary>
    public static (string Node, string Script) Locate()
    {
        var script = Environment.GetEnvironmentVariable(ScriptSetting);
        if (string.IsNullOrWhiteSpace(script))
        {
            script = RepositoryLayout.TryFindRoot(out var root)
                ? Path.Combine(root, "eng", "node_modules", "azurite", "dist", "src", "azurite.js")
                : null;
        }

        if (script is null || !File.Exists(script))
        {
            throw new InvalidOperationException(
                $"Azurite was not found{(script is null ? string.Empty : $" at {script}")}. Run ./eng/setup.sh " +
                $"(it runs `npm ci --ignore-scripts` in eng/), or set {ScriptSetting} to azurite's dist/src/azurite.js.");
        }

        var node = Environment.GetEnvironmentVariable(NodeSetting);
        if (string.IsNullOrWhiteSpace(node))
        {
            node = FindOnPath("node") ?? throw new InvalidOperationException(
                $"Node.js was not found on PATH. Run ./eng/setup.sh (it installs Debian's nodejs and npm), or set {NodeSetting}.");
        }

        return (node, script);
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
        .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => Path.Combine(dir, name))
        .FirstOrDefault(File.Exists);
}
