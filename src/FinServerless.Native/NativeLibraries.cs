using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace FinServerless.Native;

/// <summary>
/// The one place that finds and loads native engines. Order: the engine's setting (environment variable),
/// the application folder (how a published function app ships them), the repository's build outputs,
/// then the system loader (Debian packages).
/// </summary>
public static class NativeLibraries
{
    private static readonly ConcurrentDictionary<NativeEngine, nint> Loaded = new();

    /// <summary>Loads the engine once per process and returns its handle.</summary>
    public static nint Load(NativeEngine engine, Func<string, string?>? settings = null) =>
        Loaded.GetOrAdd(engine, e => LoadCore(e, settings ?? Environment.GetEnvironmentVariable));

    /// <summary>Finds and loads the engine without the per-process cache (to check a setting, for example).</summary>
    public static nint LoadUncached(NativeEngine engine, Func<string, string?> settings) => LoadCore(engine, settings);

    /// <summary>The candidate paths probed for an engine, in order (for diagnostics and tests).</summary>
    public static IReadOnlyList<string> Candidates(NativeEngine engine, Func<string, string?>? settings = null)
    {
        settings ??= Environment.GetEnvironmentVariable;
        var list = new List<string>();
        var configured = settings(engine.PathSetting);
        if (!string.IsNullOrWhiteSpace(configured))
        {
            list.Add(configured);
            return list;
        }

        foreach (var name in engine.FileNames)
        {
            list.Add(Path.Combine(AppContext.BaseDirectory, name));
        }

        if (RepositoryLayout.TryFindRoot(out var root))
        {
            list.AddRange(engine.RepositoryRelativePaths.Select(p => Path.Combine(root, p)));
        }

        return list;
    }

    /// <summary>Registers a resolver so that <c>[LibraryImport(name)]</c> in <paramref name="assembly"/> binds to the engine.</summary>
    public static void UseFor(System.Reflection.Assembly assembly, string importName, NativeEngine engine)
    {
        try
        {
            NativeLibrary.SetDllImportResolver(assembly, (name, _, _) =>
                name == importName ? Load(engine) : IntPtr.Zero);
        }
        catch (InvalidOperationException)
        {
            // A resolver was already registered for this assembly: keep the first.
        }
    }

    private static nint LoadCore(NativeEngine engine, Func<string, string?> settings)
    {
        var configured = settings(engine.PathSetting);
        var tried = new List<string>();
        foreach (var path in Candidates(engine, settings))
        {
            if (!File.Exists(path))
            {
                tried.Add($"{path} (absent)");
                continue;
            }

            if (NativeLibrary.TryLoad(path, out var handle))
            {
                return handle;
            }

            // The file is there but the loader refused it: say so with the loader's own reason.
            try
            {
                NativeLibrary.Load(path);
            }
            catch (Exception ex) when (ex is DllNotFoundException or BadImageFormatException)
            {
                throw new NativeLibraryNotFoundException(
                    $"{engine.DisplayName} was found at {path} but could not be loaded: {ex.Message}. To fix: {engine.InstallHint}.", ex);
            }
        }

        if (!string.IsNullOrWhiteSpace(configured))
        {
            throw new NativeLibraryNotFoundException(
                $"{engine.DisplayName}: the setting {engine.PathSetting} points to '{configured}', which does not exist. " +
                $"Fix the setting or unset it. To install: {engine.InstallHint}.");
        }

        foreach (var name in engine.FileNames)
        {
            if (NativeLibrary.TryLoad(name, out var handle))
            {
                return handle;
            }

            tried.Add($"{name} (system loader)");
        }

        throw new NativeLibraryNotFoundException(
            $"{engine.DisplayName} could not be found. Looked in: {string.Join("; ", tried)}. To fix: {engine.InstallHint}.");
    }
}
