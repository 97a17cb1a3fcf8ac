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
    /// Whether glibc keeps freed blocks for reuse (see <see cref="KeepFreedMemory"/>); false elsewhere or when
    /// MAMBABYTE_RELEASE_FREED_MEMORY=1.
    /// </summary>
    public static bool KeepsFreedMemory { get; private set; }

    /// <summary>
    /// libtorch allocates a step's activations and gradients afresh and frees them at the end of the step. glibc hands
    /// blocks above its mmap threshold back to the kernel on free, so the next step takes a page fault and a kernel
    /// page-zeroing for every page again. Three settings keep that memory with the process for the next step:
    /// <list type="bullet">
    /// <item>mmap threshold 32 MB (glibc's largest) and no heap trimming: in a d_model 512 training step at context
    /// 1024 the faults were about 5 % of the time (<c>perf</c>: clear_page and the fault path), and the process took
    /// 578K page faults in 40 steps against 263K with these two;</item>
    /// <item>no mmap at all (M_MMAP_MAX 0), so blocks above 32 MB, which long contexts make (one (1, 8192, 2048) fp32
    /// activation is 64 MB), come from the heap too: d_model 512 × 2 training steps, alternated run by run (median
    /// of 5 and 7 steps): context 8192 2.46 / 2.37 s → 1.78 / 1.69 s and 291K / 304K → 120K / 122K faults per run;
    /// context 4096 933 / 830 ms → 791 / 813 ms. The cost is address space that the heap keeps: peak resident
    /// memory at 8192 5.7 → 6.4–6.5 GB, at 4096 unchanged.</item>
    /// </list>
    /// </summary>
    static void KeepFreedMemory()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("MAMBABYTE_RELEASE_FREED_MEMORY") == "1") return;
        try
        {
            const int mTrimThreshold = -1, mMmapThreshold = -3, mMmapMax = -4;
            KeepsFreedMemory = mallopt(mMmapThreshold, 32 << 20) == 1 & mallopt(mTrimThreshold, int.MaxValue) == 1 & mallopt(mMmapMax, 0) == 1;
        }
        catch (EntryPointNotFoundException)
        {
            // not glibc (e.g. musl): its allocator keeps its own policy
        }
    }

    /// <summary>
    /// Whether an 80 MB block allocated on the calling thread comes from glibc's arena (and so stays with the process
    /// when freed) rather than from a mapping of its own (<c>mallinfo2</c>'s count of mmapped regions unchanged). With
    /// <see cref="KeepsFreedMemory"/> this holds on the main thread, where the trainer runs; threads with an arena of
    /// their own still map blocks larger than its 64 MB heaps (glibc's fallback ignores M_MMAP_MAX). False off glibc.
    /// </summary>
    public static bool LargeBlocksComeFromTheHeap()
    {
        if (!OperatingSystem.IsLinux()) return false;
        try
        {
            MallInfo2 before = mallinfo2();
            nint block = malloc(80u << 20);
            if (block == 0) return false;
            MallInfo2 during = mallinfo2();
            free(block);
            return during.MappedRegions == before.MappedRegions;
        }
        catch (EntryPointNotFoundException)
        {
            return false;   // not glibc, or older than 2.33 (no mallinfo2)
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    struct MallInfo2
    {
        public nuint Arena, OrdinaryBlocks, SmallBlocks, MappedRegions, MappedBytes, UnusedMax, FastBytes, AllocatedBytes, FreeBytes, KeepCost;
    }

    [DllImport("libc", EntryPoint = "mallinfo2")]
    static extern MallInfo2 mallinfo2();

    [DllImport("libc", EntryPoint = "malloc")]
    static extern nint malloc(nuint size);

    [DllImport("libc", EntryPoint = "free")]
    static extern void free(nint block);

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
