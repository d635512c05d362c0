using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace FinServerless.IsolatedHost;

/// <summary>
/// A process and everything it started, read from /proc (Linux): the host stops the worker and whatever the
/// worker launched (local training jobs) by PID, politely first (SIGTERM), then for good (SIGKILL). Each member is
/// identified by PID and start time, so a PID the system has since reused is never signalled.
/// </summary>
internal static class ProcessTree
{
    private const int SigKill = 9;
    private const int SigTerm = 15;

    /// <summary>One process: its id, its start time (clock ticks after boot, from /proc) and its command name.</summary>
    public readonly record struct Member(int Pid, long StartTime, string Name)
    {
        /// <inheritdoc/>
        public override string ToString() => $"{Pid} ({Name})";
    }

    /// <summary>Whether process trees can be read here (Linux /proc).</summary>
    public static bool Supported => OperatingSystem.IsLinux() && Directory.Exists("/proc/self");

    /// <summary><paramref name="root"/> and its descendants, parents before children; empty when the root is gone.</summary>
    public static IReadOnlyList<Member> Snapshot(int root)
    {
        var children = new Dictionary<int, List<Member>>();
        Member? top = null;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || Read(pid) is not { } stat || stat.Zombie)
            {
                continue;
            }

            if (pid == root)
            {
                top = stat.Member;
            }

            if (!children.TryGetValue(stat.Parent, out var list))
            {
                children[stat.Parent] = list = [];
            }

            list.Add(stat.Member);
        }

        if (top is null)
        {
            return [];
        }

        var tree = new List<Member> { top.Value };
        for (var i = 0; i < tree.Count; i++)
        {
            tree.AddRange(children.GetValueOrDefault(tree[i].Pid) ?? []);
        }

        return tree;
    }

    /// <summary>Whether <paramref name="member"/> still runs (same PID and start time, not a zombie).</summary>
    public static bool IsAlive(Member member) => Read(member.Pid) is { Zombie: false } stat && stat.Member.StartTime == member.StartTime;

    /// <summary>
    /// Stops every member: SIGTERM to all at once, up to <paramref name="grace"/> for them to exit, then SIGKILL to
    /// those still running. Returns the members that had to be killed.
    /// </summary>
    public static async Task<IReadOnlyList<Member>> StopAsync(IReadOnlyList<Member> members, TimeSpan grace)
    {
        foreach (var member in members.Where(IsAlive))
        {
            _ = Kill(member.Pid, SigTerm);
        }

        var clock = Stopwatch.StartNew();
        while (members.Any(IsAlive) && clock.Elapsed < grace)
        {
            await Task.Delay(50).ConfigureAwait(false);
        }

        var killed = members.Where(IsAlive).ToList();
        foreach (var member in killed)
        {
            _ = Kill(member.Pid, SigKill);
        }

        clock.Restart();
        while (killed.Any(IsAlive) && clock.Elapsed < TimeSpan.FromSeconds(5))
        {
            await Task.Delay(50).ConfigureAwait(false);
        }

        return killed;
    }

    private readonly record struct Stat(Member Member, int Parent, bool Zombie);

    /// <summary>Reads /proc/{pid}/stat: "pid (comm) state ppid …", the start time being the 22nd field.</summary>
    private static Stat? Read(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        var open = text.IndexOf('(');
        var close = text.LastIndexOf(')');
        if (open < 0 || close < open)
        {
            return null;
        }

        var fields = text[(close + 2)..].Split(' ');
        if (fields.Length < 20
            || !int.TryParse(fields[1], NumberStyles.Integer, CultureInfo.InvariantCulture, out var parent)
            || !long.TryParse(fields[19], NumberStyles.Integer, CultureInfo.InvariantCulture, out var start))
        {
            return null;
        }

        return new Stat(new Member(pid, start, text[(open + 1)..close]), parent, fields[0] is "Z" or "X");
    }

    [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);
}
