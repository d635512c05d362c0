using FinServerless.Contracts;
using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using FinServerless.Native;

namespace FinServerless.Functions.Jobs;

/// <summary>
/// Runs the training container's CLI as a local process (the dev host's stand-in for a container job). The
/// process outlives the handler (a killed host leaves it running, as a container job would), so the execution id
/// carries its process id and the state is read from /proc; its console goes to a log file beside it.
/// </summary>
public sealed class LocalProcessDispatcher(AppSettings settings) : ITrainingJobDispatcher
{
    private static readonly ConcurrentDictionary<int, Process> Started = new();

    /// <summary>Folder of the job logs.</summary>
    public static string LogFolder => Path.Combine(Path.GetTempPath(), "finserverless-jobs");

    /// <inheritdoc/>
    public Task<string> StartAsync(JobLaunch spec, CancellationToken cancellationToken)
    {
        var command = settings.Get(AppSettings.TrainerCommand)
            ?? $"dotnet {Path.Combine(RepositoryLayout.Root, "training-container", "src", "FinServerless.Trainer", "bin", "Release", "net10.0", "finserverless-train.dll")}";
        var parts = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Directory.CreateDirectory(LogFolder);
        var psi = new ProcessStartInfo(parts[0]) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in parts[1..])
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in spec.Environment)
        {
            psi.Environment[k] = v;
        }

        var process = Process.Start(psi) ?? throw new InvalidOperationException($"Could not start the trainer ({parts[0]}).");
        var id = $"local-{process.Id.ToString(CultureInfo.InvariantCulture)}-{spec.Name}";
        var log = new StreamWriter(Path.Combine(LogFolder, id + ".log")) { AutoFlush = true };
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        Started[process.Id] = process;
        _ = process.WaitForExitAsync(CancellationToken.None).ContinueWith(_ => Write(log, $"exit {process.ExitCode}"), TaskScheduler.Default);
        return Task.FromResult(id);
    }

    /// <inheritdoc/>
    public Task<JobReport> GetStateAsync(string executionId, CancellationToken cancellationToken)
    {
        var pid = int.Parse(executionId.Split('-')[1], CultureInfo.InvariantCulture);
        if (Started.TryGetValue(pid, out var process))
        {
            return Task.FromResult(!process.HasExited ? new JobReport(JobState.Running)
                : process.ExitCode == 0 ? new JobReport(JobState.Succeeded)
                : new JobReport(JobState.Failed, $"the trainer exited with code {process.ExitCode} ({(process.ExitCode == 2 ? "bad input" : "failure")}); log {Path.Combine(LogFolder, executionId + ".log")}"));
        }

        // Started by an earlier handler process (the host restarted): alive if /proc says so; the trainer's status blob says how it ended.
        var stat = $"/proc/{pid}/stat";
        var alive = File.Exists(stat) && !File.ReadAllText(stat).Contains(") Z ", StringComparison.Ordinal);
        return Task.FromResult(alive ? new JobReport(JobState.Running) : new JobReport(JobState.Lost, "the trainer process is gone; its status blob tells how it ended"));
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            log.WriteLine(line);
        }
    }
}
