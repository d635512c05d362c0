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

    /// <summary>
    /// Every setting the function app reads: AppSettings' constants, FINSERVERLESS_* literals anywhere in its code,
    /// "%SETTING%" binding expressions in its code (trigger attributes) and %SETTING% in any function.json.
    /// </summary>
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
            var code = File.ReadAllText(file);
            foreach (Match m in SettingLiteral().Matches(code))
            {
                if (!m.Value.StartsWith("\"FINSERVERLESS_TRAIN_", StringComparison.Ordinal) && m.Value != "\"FINSERVERLESS_DEVHOST_PID\"")
                {
                    names.Add(m.Value.Trim('"'));
                }
            }

            foreach (Match m in PercentSettingLiteral().Matches(code))
            {
                names.Add(m.Groups[1].Value);
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
        Assert.Contains("FINSERVERLESS_RESCORE_SCHEDULE", read); // the timer's schedule, bound as %FINSERVERLESS_RESCORE_SCHEDULE%
        Assert.True(read.Count >= 12, $"only {read.Count} settings found: {string.Join(", ", read)}");
        var missing = read.Where(n => !LocalOnly.ContainsKey(n) && !Regex.IsMatch(bicep, $@"^\s*{Regex.Escape(n)}\s*:", RegexOptions.Multiline)).ToList();
        Assert.True(missing.Count == 0, $"function-app.bicep does not set: {string.Join(", ", missing)}");

        // The identity-based storage connection the app and the durable task hub read.
        foreach (var suffix in new[] { "credential", "clientId", "blobServiceUri", "queueServiceUri", "tableServiceUri" })
        {
            Assert.Matches($@"AzureWebJobsStorage__{suffix}\s*:", bicep);
        }

        Assert.Contains("FINSERVERLESS_TRAINING_DISPATCHER: 'containerapps'", bicep);
    }

    [Fact]
    public void The_runtime_is_dotnet_isolated_of_the_app_target_framework_on_flex_and_on_elastic_premium()
    {
        var bicep = File.ReadAllText(Path.Combine(Infra, "app", "function-app.bicep"));
        var version = DotNetVersionOfTheApp();
        Assert.Equal("10.0", version);

        // Flex Consumption: the runtime lives in functionAppConfig, which only the Flex branch sets.
        const string flexOnly = "functionAppConfig: isFlex ? {";
        var flexConfig = Block(bicep, flexOnly);
        Assert.Contains($"runtime: {{ name: 'dotnet-isolated', version: '{version}' }}", flexConfig);
        var afterFlexConfig = bicep[(bicep.IndexOf(flexOnly, StringComparison.Ordinal) + flexOnly.Length - 1 + flexConfig.Length)..];
        Assert.StartsWith(" : null", afterFlexConfig, StringComparison.Ordinal);

        // Elastic Premium: FUNCTIONS_WORKER_RUNTIME and linuxFxVersion, in blocks empty on Flex (which refuses both).
        var premiumSettings = Block(bicep, "var premiumSettings = isFlex ? {} : {");
        Assert.Matches(@"^\s*FUNCTIONS_WORKER_RUNTIME:\s*'dotnet-isolated'\s*$", premiumSettings.Split('\n').First(l => l.Contains("FUNCTIONS_WORKER_RUNTIME", StringComparison.Ordinal)));
        Assert.Contains("FUNCTIONS_EXTENSION_VERSION: '~4'", premiumSettings);
        Assert.Single(Regex.Matches(bicep, @"\bFUNCTIONS_WORKER_RUNTIME\s*:"));
        Assert.Single(Regex.Matches(bicep, @"\bFUNCTIONS_EXTENSION_VERSION\s*:"));
        Assert.DoesNotContain("FUNCTIONS_WORKER_RUNTIME", Block(bicep, "var appSettings = {"), StringComparison.Ordinal);
        Assert.Contains("properties: union(appSettings, premiumSettings)", bicep);

        var premiumSiteConfig = Block(bicep, "var premiumSiteConfig = isFlex ? {} : {");
        Assert.Contains($"linuxFxVersion: 'DOTNET-ISOLATED|{version}'", premiumSiteConfig);
        Assert.Single(Regex.Matches(bicep, @"\blinuxFxVersion\s*:"));
        Assert.Matches(@"siteConfig: union\(\{[^{}]*\}, premiumSiteConfig\)", bicep);

        // Nothing of the custom handler is left in the templates.
        foreach (var file in BicepFiles.Append(Path.Combine(RepositoryLayout.Root, "azure.yaml")))
        {
            var text = File.ReadAllText(file);
            Assert.False(Regex.IsMatch(text, @"(?i)'custom'|custom handler|language:\s*custom"), $"{Path.GetRelativePath(RepositoryLayout.Root, file)} still mentions the custom handler");
        }
    }

    [Fact]
    public void Azure_yaml_builds_the_api_as_a_dotnet_function_service_and_keeps_the_training_image_hook()
    {
        var yaml = File.ReadAllText(Path.Combine(RepositoryLayout.Root, "azure.yaml"));
        var lines = yaml.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => !l.TrimStart().StartsWith('#') && l.Trim().Length > 0).ToList();
        var api = YamlBlock(lines, "services:", "api:");
        Assert.Contains("project: ./functions/FinServerless.Functions", api);
        Assert.Contains("language: dotnet", api);
        Assert.Contains("host: function", api);
        Assert.DoesNotContain(api, l => l.StartsWith("dist:", StringComparison.Ordinal) || l.StartsWith("hooks:", StringComparison.Ordinal));
        Assert.True(File.Exists(Path.Combine(RepositoryLayout.Root, "functions", "FinServerless.Functions", "FinServerless.Functions.csproj")));
        Assert.DoesNotContain("prepackage", yaml, StringComparison.Ordinal);
        Assert.DoesNotContain("publish-functions", yaml, StringComparison.Ordinal);

        // The service name is the tag azd deploys to.
        Assert.Contains("'azd-service-name': 'api'", File.ReadAllText(Path.Combine(Infra, "app", "function-app.bicep")));

        var postprovision = YamlBlock(lines, "hooks:", "postprovision:");
        Assert.Contains("run: ./infra/scripts/build-training-image.sh", postprovision);
        Assert.True(File.Exists(Path.Combine(Infra, "scripts", "build-training-image.sh")));
    }

    /// <summary>
    /// azd publishes with `dotnet publish -c Release --output …` and no runtime identifier; the isolated worker
    /// project must then pick linux-x64 itself, or ONNX Runtime's libonnxruntime.so (runtimes/linux-x64/native)
    /// does not land beside the app. Checked by evaluating the project as `dotnet publish` does (_IsPublishing=true).
    /// </summary>
    [Fact]
    public void The_isolated_worker_project_publishes_for_linux_x64()
    {
        var project = Path.Combine(RepositoryLayout.Root, "functions", "FinServerless.Functions", "FinServerless.Functions.csproj");
        Assert.Contains("Microsoft.Azure.Functions.Worker.Sdk", File.ReadAllText(project), StringComparison.Ordinal);

        var psi = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = RepositoryLayout.Root,
        };
        foreach (var arg in new[] { "msbuild", project, "-nologo", "-p:_IsPublishing=true", "-p:Configuration=Release", "-getProperty:RuntimeIdentifier", "-getProperty:SelfContained" })
        {
            psi.ArgumentList.Add(arg);
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEnd();
        var stderr = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"dotnet msbuild failed: {stdout} {stderr}");
        var properties = JsonDocument.Parse(stdout).RootElement.GetProperty("Properties");
        Assert.Equal("linux-x64", properties.GetProperty("RuntimeIdentifier").GetString());
        Assert.NotEqual("true", properties.GetProperty("SelfContained").GetString(), StringComparer.OrdinalIgnoreCase);
    }

    /// <summary>The app's .NET version ("10.0") from its TargetFramework (its csproj, else Directory.Build.props).</summary>
    private static string DotNetVersionOfTheApp()
    {
        var project = File.ReadAllText(Path.Combine(RepositoryLayout.Root, "functions", "FinServerless.Functions", "FinServerless.Functions.csproj"));
        var props = File.ReadAllText(Path.Combine(RepositoryLayout.Root, "Directory.Build.props"));
        var tfm = TargetFramework().Match(project) is { Success: true } own ? own : TargetFramework().Match(props);
        Assert.True(tfm.Success, "no TargetFramework found for the function app");
        return tfm.Groups[1].Value;
    }

    /// <summary>The text of the braces block that <paramref name="opening"/> (ending with '{') opens, braces included.</summary>
    private static string Block(string text, string opening)
    {
        var at = text.IndexOf(opening, StringComparison.Ordinal);
        Assert.True(at >= 0, $"'{opening}' not found");
        var start = at + opening.Length - 1;
        Assert.Equal('{', text[start]);
        var depth = 0;
        for (var i = start; i < text.Length; i++)
        {
            depth += text[i] switch { '{' => 1, '}' => -1, _ => 0 };
            if (depth == 0)
            {
                return text[start..(i + 1)];
            }
        }

        throw new InvalidOperationException($"'{opening}' is never closed");
    }

    /// <summary>The trimmed lines under <paramref name="child"/> of the top-level <paramref name="parent"/> key, by indentation (comments and blank lines removed).</summary>
    private static List<string> YamlBlock(List<string> lines, string parent, string child)
    {
        static int Indent(string l) => l.Length - l.TrimStart().Length;
        var p = lines.FindIndex(l => l == parent);
        Assert.True(p >= 0, $"no top-level '{parent}'");
        var c = lines.FindIndex(p + 1, l => l.Trim() == child && Indent(l) > 0);
        Assert.True(c > p && lines.Skip(p + 1).Take(c - p - 1).All(l => Indent(l) > 0), $"no '{child}' under '{parent}'");
        var indent = Indent(lines[c]);
        return lines.Skip(c + 1).TakeWhile(l => Indent(l) > indent).Select(l => l.Trim()).ToList();
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
        foreach (var name in new[] { "AzureWebJobsStorage__blobServiceUri", "AzureWebJobsStorage__credential", "AzureWebJobsStorage__clientId" })
        {
            Assert.Contains($"name: '{name}'", job);
        }

        // The job file TrainModel writes is the job's whole contract (the device included, from FINSERVERLESS_TRAINING_DEVICE):
        // the template sets no trainer option that the file would contradict.
        Assert.DoesNotContain("FINSERVERLESS_TRAIN_", job);
        Assert.Contains("FINSERVERLESS_TRAINING_DEVICE: 'cuda'", File.ReadAllText(Path.Combine(Infra, "app", "function-app.bicep")));

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

    [GeneratedRegex("\"%([A-Za-z_][A-Za-z0-9_]*)%\"")]
    private static partial Regex PercentSettingLiteral();

    [GeneratedRegex(@"<TargetFramework>net(\d+\.\d+)</TargetFramework>")]
    private static partial Regex TargetFramework();
}
