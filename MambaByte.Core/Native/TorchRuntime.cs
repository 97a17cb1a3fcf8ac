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

    /// <summary>
    /// Whether glibc keeps freed blocks up to 32 MB for reuse (see <see cref="KeepFreedMemory"/>); false elsewhere or
    /// when MAMBABYTE_RELEASE_FREED_MEMORY=1.
    /// </summary>
    public static bool KeepsFreedMemory { get; private set; }

    /// <summary>
    /// libtorch allocates a step's activations and gradients afresh and frees them at the end of the step. glibc hands
    /// blocks above its (adaptive) mmap threshold back to the kernel on free, so the next step takes a page fault and
    /// a kernel page-zeroing for every 4 KB again: in a d_model 512 training step that was about 5 % of the time
    /// (<c>perf</c>: clear_page and the fault path), and the process took 578K page faults in 40 steps against 263K
    /// with this setting. Blocks up to 32 MB (glibc's largest mmap threshold) now come from the heap, and the heap is
    /// not trimmed, so memory stays with the process for the next step. Peak memory is unchanged.
    /// </summary>
    static void KeepFreedMemory()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MAMBABYTE_RELEASE_FREED_MEMORY") == "1") return;
        try
        {
            const int mTrimThreshold = -1, mMmapThreshold = -3;
            KeepsFreedMemory = mallopt(mMmapThreshold, 32 << 20) == 1 & mallopt(mTrimThreshold, int.MaxValue) == 1;
        }
        catch (EntryPointNotFoundException)
        {
            // not glibc (e.g. musl): its allocator keeps its own policy
        }
    }

    [DllImport("libc", EntryPoint = "mallopt")]
    static extern int mallopt(int parameter, int value);

    static Exception? TryLoad()
    {
        PreferPassiveOpenMpWaiting();
        KeepFreedMemory();
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
