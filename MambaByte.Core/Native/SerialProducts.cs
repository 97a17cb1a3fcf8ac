using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Core.Native;

/// <summary>
/// Runs small matrix products on the calling thread. libtorch hands every product to MKL (fp32, fp64) or oneDNN (bf16),
/// which wake libtorch's OpenMP threads for it; those wait passively between regions (<see cref="TorchRuntime"/>), and
/// waking one costs about 100–150 µs here, more than a small product gains from a second core. Measured on the 2-core
/// Zen 4 machine (median of 9 × 20 products, one thread and two alternated), fp32: 64×96×384 (4.7 MFLOP) 53–59 µs on
/// one thread against 148–250 µs on two, 256×96×384 (19 MFLOP) 207–218 against 220–230 µs, 1024×512×48 (50 MFLOP)
/// 583–625 against 433–438 µs; bf16: 256×96×384 60–74 against 108–122 µs, 1024×32×1024 (67 MFLOP) 195–217 against
/// 216–240 µs, 1024×1024×64 (134 MFLOP) 357–375 against 275–318 µs. Two threads pay off once a product takes about
/// 200 µs on one, so <see cref="SerialFlops"/> is that much work in the product's dtype; below it a product runs with
/// one OpenMP thread and one MKL thread on the calling thread: both settings are per thread (<c>omp_set_num_threads</c>
/// sets the calling thread's ICV; <c>MKL_Set_Num_Threads_Local</c> overrides libtorch's global MKL count for this
/// thread only) and are restored afterwards. Where the symbols are not there (a libtorch without MKL or OpenMP) the
/// product runs as it is.
/// </summary>
internal static unsafe class SerialProducts
{
    /// <summary>
    /// 2·m·k·n below which a product in <paramref name="dtype"/> runs on one thread: about 200 µs of one core's work
    /// (fp32 ~90 GFLOP/s, fp64 about half that, bf16 through oneDNN about four times it on this machine).
    /// </summary>
    public static double SerialFlops(ScalarType dtype) => dtype switch
    {
        ScalarType.Float64 => 12e6,
        ScalarType.BFloat16 or ScalarType.Float16 => 80e6,
        _ => 24e6,
    };

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
    /// <paramref name="product"/> of an (m, k) and a (k, n) operand in <paramref name="dtype"/> on <paramref name="device"/>:
    /// on the calling thread alone when 2·m·k·n is below <see cref="SerialFlops"/> and the device is the CPU; as it is
    /// otherwise.
    /// </summary>
    public static Tensor Run(Device device, ScalarType dtype, long m, long k, long n, Func<Tensor> product)
    {
        if (device.type != DeviceType.CPU || 2.0 * m * k * n >= SerialFlops(dtype) || !Available) return product();
        int omp = OpenMpThreads;
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
        return Run(x.device, x.dtype, rows, w.shape[1], w.shape[0], () => nn.functional.linear(x, w, b));
    }

    /// <summary>a (m, k) · b (k, n), serial when small.</summary>
    public static Tensor Mm(Tensor a, Tensor b) => Run(a.device, a.dtype, a.shape[0], a.shape[1], b.shape[1], () => a.mm(b));
}
