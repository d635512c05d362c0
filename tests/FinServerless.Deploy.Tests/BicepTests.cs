using System.Diagnostics;
using System.Reflection;
using System.Text.Json;
using System.Text.RegularExpressions;
using FinServerless.Functions;
using FinServerless.Native;

namespace FinServerless.Deploy.Tests;

/// <summary>The deployment templates against the code: every setting the app reads is set, no secrets, the Bicep parses.</summary>
public sealed partial class BicepTests
{
    private static readonly string Infra = Path.Combine(RepositoryLayout.Root, "infra");

    private static string[] BicepFiles => Directory.GetFiles(Infra, "*.bicep", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();

    /// <summary>Settings only the local dev host uses, with why Azure does not need them.</summary>
    private static readonly Dictionary<string, string> LocalOnly = new()
    {
        [AppSettings.TrainerCommand] = "the local process dispatcher's command; Azure uses the Container Apps job",
        [AppSettings.Storage] = "Azure uses the identity-based AzureWebJobsStorage__* settings instead of a connection string",
    };

    /// <summary>Every setting the function app reads: AppSettings' constants, FINSERVERLESS_* literals anywhere in its code, %SETTING% in function.json.</summary>
    private static SortedSet<string> SettingsTheAppReads()
    {
        var names = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var field in typeof(AppSettings).GetFields(BindingFlags.Public | BindingFlags.Static).Where(f => f.IsLiteral))
        {
            names.Add((string)field.GetRawConstantValue()!);
        }

        var app = Path.Combine(RepositoryLayout.Root, "functions", "FinServerless.Functions");
        foreach (var file in Directory.GetFiles(app, "*.cs", SearchOption.AllDirectories).Where(f => !f.Contains("/obj/", StringComparison.Ordinal) && !f.Contains("/bin/", StringComparison.Ordinal)))
        {
            foreach (Match m in SettingLiteral().Matches(File.ReadAllText(file)))
            {
                if (!m.Value.StartsWith("\"FINSERVERLESS_TRAIN_", StringComparison.Ordinal) && m.Value != "\"FINSERVERLESS_DEVHOST_PID\"")
                {
                    names.Add(m.Value.Trim('"'));
                }
            }
        }

        foreach (var file in Directory.GetFiles(app, "function.json", SearchOption.AllDirectories).Where(f => !f.Contains("/bin/", StringComparison.Ordinal)))
        {
            foreach (Match m in PercentSetting().Matches(File.ReadAllText(file)))
            {
                names.Add(m.Groups[1].Value);
            }
        }

        return names;
    }

    [Fact]
    public void Every_setting_the_app_reads_is_set_by_the_function_app_bicep()
    {
        var bicep = File.ReadAllText(Path.Combine(Infra, "app", "function-app.bicep"));
        var read = SettingsTheAppReads();
        Assert.Contains("FINSERVERLESS_RESCORE_SCHEDULE", read); // found through function.json's %…%
        Assert.True(read.Count >= 12, $"only {read.Count} settings found: {string.Join(", ", read)}");
        var missing = read.Where(n => !LocalOnly.ContainsKey(n) && !Regex.IsMatch(bicep, $@"^\s*{Regex.Escape(n)}\s*:", RegexOptions.Multiline)).ToList();
        Assert.True(missing.Count == 0, $"function-app.bicep does not set: {string.Join(", ", missing)}");

        // The identity-based storage connection the app and the durable task hub read.
        foreach (var suffix in new[] { "credential", "clientId", "blobServiceUri", "queueServiceUri", "tableServiceUri" })
        {
            Assert.Matches($@"AzureWebJobsStorage__{suffix}\s*:", bicep);
        }

        Assert.Contains("name: 'custom', version: '1.0'", bicep);
        Assert.Contains("FINSERVERLESS_TRAINING_DISPATCHER: 'containerapps'", bicep);
    }

    [Fact]
    public void Every_setting_the_app_reads_is_in_the_sample_settings_and_the_README()
    {
        var sample = JsonDocument.Parse(File.ReadAllText(Path.Combine(RepositoryLayout.Root, "local.settings.sample.json"))).RootElement.GetProperty("Values");
        var readme = File.ReadAllText(Path.Combine(RepositoryLayout.Root, "README.md"));
        var read = SettingsTheAppReads();
        Assert.Contains(AppSettings.PromotionMinClassRows, read);

        var notInSample = read.Where(n => !sample.TryGetProperty(n, out _)).ToList();
        var notInReadme = read.Where(n => !readme.Contains($"`{n}`", StringComparison.Ordinal)).ToList();
        Assert.True(notInSample.Count == 0, $"local.settings.sample.json does not list: {string.Join(", ", notInSample)}");
        Assert.True(notInReadme.Count == 0, $"README.md does not document: {string.Join(", ", notInReadme)}");
    }

    [Fact]
    public void The_training_job_gets_the_storage_identity_the_trainer_reads()
    {
        var job = File.ReadAllText(Path.Combine(Infra, "app", "training-job.bicep"));
        foreach (var name in new[] { "AzureWebJobsStorage__blobServiceUri", "AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId", "FINSERVERLESS_TRAIN_DEVICE" })
        {
            Assert.Contains($"name: '{name}'", job);
        }

        Assert.Contains("triggerType: 'Manual'", job);
        Assert.Contains("'Consumption-GPU-NC8as-T4'", job);
        Assert.Contains("'Consumption-GPU-NC24-A100'", job);
    }

    [Fact]
    public void No_key_connection_string_secret_or_password_appears_in_the_templates()
    {
        var files = BicepFiles.Append(Path.Combine(RepositoryLayout.Root, "azure.yaml")).Append(Path.Combine(Infra, "main.parameters.json"));
        foreach (var file in files)
        {
            var text = File.ReadAllText(file);
            foreach (var pattern in new[] { @"listKeys\s*\(", "AccountKey", "DefaultEndpointsProtocol", "SharedAccessKey", @"(?i)password", @"(?i)\bsecrets?\s*:", @"(?i)secretRef", @"adminUserEnabled:\s*true", @"allowSharedKeyAccess:\s*true", @"AzureWebJobsStorage\s*:", @"@secure\(\)" })
            {
                Assert.False(Regex.IsMatch(text, pattern), $"{Path.GetRelativePath(RepositoryLayout.Root, file)} matches '{pattern}'");
            }
        }

        var storage = File.ReadAllText(Path.Combine(Infra, "app", "storage.bicep"));
        Assert.Contains("allowSharedKeyAccess: false", storage);
        Assert.Contains("allowBlobPublicAccess: false", storage);
        Assert.Contains("minimumTlsVersion: 'TLS1_2'", storage);
        Assert.Contains("supportsHttpsTrafficOnly: true", storage);
    }

    [Fact]
    public void The_storage_layout_has_the_containers_and_queues_of_the_architecture()
    {
        var storage = File.ReadAllText(Path.Combine(Infra, "app", "storage.bicep"));
        foreach (var name in new[] { "'contracts'", "'curated'", "'quarantine'", "'models'", "'scores'", "'inbox-${p}'", "'ingest-events'", "'ingest-events-poison'", "'score-requests'", "'score-requests-poison'" })
        {
            Assert.Contains(name, storage);
        }

        var events = File.ReadAllText(Path.Combine(Infra, "app", "events.bicep"));
        Assert.Contains("'/blobServices/default/containers/inbox-'", events);
        Assert.Contains("endpointType: 'StorageQueue'", events);
    }

    [Fact]
    public void Every_bicep_file_parses_with_the_tree_sitter_grammar_and_a_broken_one_does_not()
    {
        var broken = Path.Combine(Path.GetTempPath(), $"broken-{Guid.NewGuid():N}.bicep");
        File.WriteAllText(broken, "resource s 'Microsoft.Storage/storageAccounts@2023-05-01' = {\n  name: \n");
        try
        {
            var parsed = Parse([.. BicepFiles, broken]);
            foreach (var file in BicepFiles)
            {
                var errors = parsed.GetProperty(file).GetProperty("errors");
                Assert.True(errors.GetArrayLength() == 0, $"{Path.GetRelativePath(RepositoryLayout.Root, file)}: {errors}");
            }

            Assert.True(parsed.GetProperty(broken).GetProperty("errors").GetArrayLength() > 0, "the parser must report a broken file");
            var main = parsed.GetProperty(Path.Combine(Infra, "main.bicep")).GetProperty("declarations").EnumerateArray().Select(d => d.GetString()).ToList();
            foreach (var module in new[] { "identity", "monitoring", "storage", "registry", "training", "functionApp", "events", "rbac" })
            {
                Assert.Contains($"module {module}", main);
            }
        }
        finally
        {
            File.Delete(broken);
        }
    }

    private static JsonElement Parse(string[] files)
    {
        var psi = new ProcessStartInfo("node") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = RepositoryLayout.Root };
        psi.ArgumentList.Add(Path.Combine(Infra, "tests", "parse-bicep.mjs"));
        foreach (var f in files)
        {
            psi.ArgumentList.Add(f);
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"the Bicep parser failed (run ./eng/setup.sh for web-tree-sitter and tree-sitter-bicep): {stderr}");
        return JsonDocument.Parse(stdout).RootElement.Clone();
    }

    [GeneratedRegex("\"FINSERVERLESS_[A-Z_]+\"")]
    private static partial Regex SettingLiteral();

    [GeneratedRegex("%([A-Za-z0-9_]+)%")]
    private static partial Regex PercentSetting();
}
