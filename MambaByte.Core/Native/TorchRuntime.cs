using System.Reflection;
using System.Runtime.InteropServices;
using TorchSharp;

namespace MambaByte.Core.Native;

/// <summary>Loads libtorch once and, when that fails, reports the loader's real reason.</summary>
public static class TorchRuntime
{
    static readonly Lazy<Exception?> LoadFailure = new(TryLoad);

    /// <summary>Throws <see cref="TorchLoadException"/> naming the real cause when TorchSharp cannot load.</summary>
    public static void EnsureLoaded()
    {
        if (LoadFailure.Value is { } failure) throw failure;
    }

    public static string TorchSharpVersion =>
        typeof(torch).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0]
        ?? typeof(torch).Assembly.GetName().Version?.ToString() ?? "unknown";

    /// <summary>The libtorch package version this app was built against, from its .deps.json.</summary>
    public static string LibTorchVersion => LibTorchVersionFromDeps() ?? "unknown";

    /// <summary>The libLibTorchSharp.so this process loads from, or null when none is beside the app.</summary>
    public static string? NativeLibraryPath()
    {
        foreach (string candidate in new[]
                 {
                     Path.Combine(AppContext.BaseDirectory, "runtimes", RuntimeRid(), "native", "libLibTorchSharp.so"),
                     Path.Combine(AppContext.BaseDirectory, "libLibTorchSharp.so"),
                 })
        {
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }

    static string RuntimeRid() => RuntimeInformation.OSArchitecture == Architecture.Arm64 ? "linux-arm64" : "linux-x64";

    static string? LibTorchVersionFromDeps()
    {
        // The app's .deps.json names the libtorch package it was built against.
        foreach (string deps in Directory.EnumerateFiles(AppContext.BaseDirectory, "*.deps.json"))
        {
            string text = File.ReadAllText(deps);
            int at = text.IndexOf("\"libtorch-cpu-linux-x64/", StringComparison.Ordinal);
            if (at < 0) at = text.IndexOf("\"libtorch-cuda-", StringComparison.Ordinal);
            if (at < 0) continue;
            int slash = text.IndexOf('/', at);
            int end = text.IndexOf('"', slash);
            return text[(at + 1)..end];
        }
        return null;
    }

    /// <summary>
    /// libtorch's OpenMP threads spin-wait between parallel regions unless told otherwise, and then compete for the
    /// cores with the FusedCpu kernel's .NET workers and with other processes: on the shared 2-core machine passive
    /// waiting made a Mamba training step 3-5× faster (<c>mambabyte bench</c>, README "Benchmarks"). Set in the
    /// native environment before libgomp loads (it reads it once); an explicit OMP_WAIT_POLICY is kept.
    /// </summary>
    static void PreferPassiveOpenMpWaiting()
    {
        if (OperatingSystem.IsLinux() && Environment.GetEnvironmentVariable("OMP_WAIT_POLICY") is null)
            setenv("OMP_WAIT_POLICY", "PASSIVE", 0);
    }

    [DllImport("libc", EntryPoint = "setenv")]
    static extern int setenv(string name, string value, int overwrite);

    static Exception? TryLoad()
    {
        PreferPassiveOpenMpWaiting();
        try
        {
            using var probe = torch.ones(1);
            return null;
        }
        catch (Exception e) when (e is TypeInitializationException or NotSupportedException or DllNotFoundException or InvalidOperationException)
        {
            return new TorchLoadException(Diagnose(), e);
        }
    }

    /// <summary>TorchSharp's own message blames a missing package reference; ask the loader directly.</summary>
    static string Diagnose()
    {
        string? path = NativeLibraryPath();
        if (path is null)
            return $"TorchSharp cannot load: no libLibTorchSharp.so in {AppContext.BaseDirectory} (was the app built with a TorchSharp backend package?)";
        try
        {
            NativeLibrary.Free(NativeLibrary.Load(path));
            return $"TorchSharp cannot load although {path} loads; see the inner exception";
        }
        catch (DllNotFoundException e)
        {
            return $"TorchSharp cannot load {path}: {e.Message.Split('\n')[0]}";
        }
    }
}
