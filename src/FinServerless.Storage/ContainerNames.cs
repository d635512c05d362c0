using System.Text.RegularExpressions;

namespace FinServerless.Storage;

/// <summary>Storage naming rules, checked before a request so the error names the bad name.</summary>
internal static partial class ContainerNames
{
    public static void Validate(string name)
    {
        // $logs and $root are the service's own containers.
        if (name is "$root" or "$logs" || ValidName().IsMatch(name))
        {
            return;
        }

        throw new ArgumentException(
            $"'{name}' is not a valid container or queue name: use 3-63 lowercase letters, digits and single hyphens, starting with a letter or digit.",
            nameof(name));
    }

    [GeneratedRegex("^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$")]
    private static partial Regex ValidName();
}
