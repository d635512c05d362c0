using System.Text.RegularExpressions;
using FinServerless.Native;

namespace FinServerless.Deploy.Tests;

/// <summary>
/// The processes' one contract, checked on the source: every storage path is built by StorageLayout, and the function
/// app and the trainer share no environment variable name (TrainModel gives the job only where its job file is).
/// </summary>
public sealed partial class OneContractTests
{
    private static IEnumerable<(string Path, string[] Lines)> Sources(params string[] folders) =>
        folders.SelectMany(folder => Directory.GetFiles(Path.Combine(RepositoryLayout.Root, folder), "*.cs", SearchOption.AllDirectories))
            .Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal) && !f.Contains("/tests/", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(f => (Path.GetRelativePath(RepositoryLayout.Root, f), File.ReadAllLines(f)));

    [GeneratedRegex("\"(?:curated|models|scores|quarantine|contracts|inbox-)/|\"(?:_manifest|manifest|status|job|promotion|champion|latest|evaluation|report)\\.(?:json|html)\"")]
    private static partial Regex StoragePathLiteral();

    [GeneratedRegex("\"(FINSERVERLESS_[A-Z0-9_]+)\"")]
    private static partial Regex SettingLiteral();

    [Fact]
    public void Storage_path_templates_and_fixed_file_names_are_written_only_in_StorageLayout()
    {
        var outside = Sources("src", "functions", "training-container", "tools", "bench")
            .Where(s => !s.Path.EndsWith("StorageLayout.cs", StringComparison.Ordinal))
            .SelectMany(s => s.Lines.Select((line, i) => (s.Path, Line: i + 1, Text: line.Trim())))
            .Where(l => !l.Text.StartsWith("//", StringComparison.Ordinal) && !l.Text.Contains("Route = ", StringComparison.Ordinal) && StoragePathLiteral().IsMatch(l.Text))
            .Select(l => $"{l.Path}:{l.Line}: {l.Text}")
            .ToList();

        Assert.True(outside.Count == 0, "storage paths built outside StorageLayout:\n" + string.Join('\n', outside));
    }

    [Fact]
    public void The_function_app_and_the_trainer_share_no_environment_variable_name()
    {
        HashSet<string> Names(string folder) => [.. Sources(folder).SelectMany(s => s.Lines).SelectMany(l => SettingLiteral().Matches(l).Select(m => m.Groups[1].Value))];
        var app = Names("functions/FinServerless.Functions");
        var trainer = Names("training-container/src/FinServerless.Trainer");

        Assert.Empty(app.Intersect(trainer));
        Assert.DoesNotContain(app, n => n.StartsWith("FINSERVERLESS_TRAIN_", StringComparison.Ordinal));
        // The one name both sides use is a constant of the contracts assembly, not a literal in either.
        Assert.DoesNotContain(Contracts.TrainingJobSpec.LocationSetting, app);
        Assert.Contains(Sources("functions/FinServerless.Functions").SelectMany(s => s.Lines), l => l.Contains("TrainingJobSpec.LocationSetting", StringComparison.Ordinal));
        Assert.Contains(Sources("training-container/src/FinServerless.Trainer").SelectMany(s => s.Lines), l => l.Contains("TrainingJobSpec.LocationSetting", StringComparison.Ordinal));
    }
}
