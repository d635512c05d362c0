using System.Diagnostics;
using System.Text.Json;

namespace FinServerless.Benchmarks;

/// <summary>Runs a benchmark side as its own process and reads the JSON line it prints last.</summary>
internal static class ProcessRunner
{
    public static async Task<JsonElement> RunJsonAsync(string fileName, params string[] args)
    {
        var psi = new ProcessStartInfo(fileName) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        var line = (await stdout).Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault(l => l.TrimStart().StartsWith('{'));
        if (line is null)
        {
            throw new InvalidOperationException($"{fileName} {string.Join(' ', args)} printed no result (exit {process.ExitCode}): {await stderr}");
        }

        return JsonDocument.Parse(line).RootElement.Clone();
    }
}
