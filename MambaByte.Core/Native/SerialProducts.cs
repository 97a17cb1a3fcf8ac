using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Core.Native;

/// <summary>
/// Runs small matrix products on the calling thread. libtorch hands every product to MKL (fp32, fp64) or oneDNN (bf16),
/// which wake libtorch's OpenMP threads for it; those wait passively between regions (<see cref="TorchRuntime"/>), and
/// waking one costs about 100–150 µs here, more than a small product takes on one core. Measured on the 2-core Zen 4
/// machine (median of 9 × 20 products, one and two threads alternated): 64×96×384 (4.7 MFLOP) 53–59 µs on one thread
/// against 148–250 µs on two; 256×96×384 (19 MFLOP) 215–223 against 259–264 µs; 512×512×512 (268 MFLOP) 3.0–3.2 ms
/// against 1.6–1.8 ms, where two threads pay off. Below <see cref="SerialFlops"/> a product therefore runs with one
/// OpenMP thread and one MKL thread on the calling thread: both settings are per thread (<c>omp_set_num_threads</c>
/// sets the calling thread's ICV; <c>MKL_Set_Num_Threads_Local</c> overrides libtorch's global MKL count for this
/// thread only) and are restored afterwards. Where the symbols are not there (a libtorch without MKL or OpenMP) the
/// product runs as it is.
/// </summary>
internal static unsafe class SerialProducts
{
    /// <summary>2·m·k·n below which a product runs on one thread.</summary>
    public const double SerialFlops = 48e6;

    static readonly delegate* unmanaged<int, int> SetMklLocal;
    static readonly delegate* unmanaged<int, void> SetOmpThreads;
    static readonly delegate* unmanaged<int> GetOmpThreads;

    static SerialProducts()
    {
        TorchRuntime.EnsureLoaded();
        if (!OperatingSystem.IsLinux() || !NativeLibrary.TryLoad("libtorch_cpu.so", out nint torchCpu)) return;
        // dlsym on libtorch_cpu also searches its dependencies, among them the libgomp it was built with
        if (NativeLibrary.TryGetExport(torchCpu, "MKL_Set_Num_Threads_Local", out nint mkl)) SetMklLocal = (delegate* unmanaged<int, int>)mkl;
        if (NativeLibrary.TryGetExport(torchCpu, "omp_set_num_threads", out nint set) && NativeLibrary.TryGetExport(torchCpu, "omp_get_max_threads", out nint get))
        {
            SetOmpThreads = (delegate* unmanaged<int, void>)set;
            GetOmpThreads = (delegate* unmanaged<int>)get;
        }
    }

    /// <summary>Whether the per-thread settings were found (MKL's or OpenMP's).</summary>
    public static bool Available => SetMklLocal != null || SetOmpThreads != null;

    /// <summary>The calling thread's OpenMP thread count as libtorch's next parallel region sees it (0 when unknown).</summary>
    internal static int OpenMpThreads => GetOmpThreads == null ? 0 : GetOmpThreads();

    /// <summary>
    /// <paramref name="product"/>, on the calling thread alone when 2·<paramref name="m"/>·<paramref name="k"/>·<paramref name="n"/>
    /// is below <see cref="SerialFlops"/> and <paramref name="device"/> is the CPU; as it is otherwise.
    /// </summary>
    public static Tensor Run(Device device, long m, long k, long n, Func<Tensor> product)
    {
        if (device.type != DeviceType.CPU || 2.0 * m * k * n >= SerialFlops || !Available) return product();
        int omp = GetOmpThreads == null ? 0 : GetOmpThreads();
        if (SetOmpThreads != null) SetOmpThreads(1);
        int mkl = SetMklLocal == null ? 0 : SetMklLocal(1);
        try
        {
            return product();
        }
        finally
        {
            if (SetMklLocal != null) SetMklLocal(mkl);
            if (SetOmpThreads != null) SetOmpThreads(omp);
        }
    }

    /// <summary>x (…, in) · wᵀ (+ b): <c>F.linear</c> over the flattened rows, serial when small.</summary>
    public static Tensor Linear(Tensor x, Tensor w, Tensor? b)
    {
        long rows = x.numel() / x.shape[^1];
        return Run(x.device, rows, w.shape[1], w.shape[0], () => nn.functional.linear(x, w, b));
    }

    /// <summary>a (m, k) · b (k, n), serial when small.</summary>
    public static Tensor Mm(Tensor a, Tensor b) => Run(a.device, a.shape[0], a.shape[1], b.shape[1], () => a.mm(b));
}
