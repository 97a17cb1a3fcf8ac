using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>Generic-lane helpers the float/double kernels share.</summary>
internal static class VectorOps
{
    /// <summary>a·b + c, fused where the CPU has FMA (the software fallback of Vector256.FusedMultiplyAdd is slow, so plain multiply-add then).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<T> Fma<T>(Vector256<T> a, Vector256<T> b, Vector256<T> c) where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        if (System.Runtime.Intrinsics.X86.Fma.IsSupported || AdvSimd.IsSupported)
        {
            if (typeof(T) == typeof(float)) return Vector256.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
            if (typeof(T) == typeof(double)) return Vector256.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
        }
        return a * b + c;
    }

    /// <summary>
    /// The first address at or after <paramref name="p"/> that is a multiple of one <typeparamref name="TV"/> (the
    /// caller's buffer holds one spare element for it). Neither stackalloc (16 bytes) nor a managed array (8) aligns to
    /// a SIMD vector, and a misaligned vector splits every load and store of the kernels' per-step scratch across two
    /// cache lines: unaligned, the mixer scan's forward at d_inner 1024 × 1024 steps (one thread) took either about 8
    /// or about 13 ms depending on where the process's stack fell (4 of 8 processes slow); aligned, 7.3–9.3 ms.
    /// </summary>
    public static unsafe TV* Aligned<TV>(TV* p) where TV : unmanaged => (TV*)(((nint)p + sizeof(TV) - 1) & ~(nint)(sizeof(TV) - 1));

    /// <summary>
    /// Asks for the cache line at <paramref name="address"/> ahead of use. The mixer kernels read one line per row of
    /// each (l, e) tensor per channel block, rows e·4 bytes apart (a page at e = 1024), which the hardware prefetchers
    /// do not follow across pages: the scan fetches the next chunk's rows during its recurrence, the conv a few rows
    /// ahead (measured: scan forward 0.59 → 0.46 ns per element at d_inner 1024).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static unsafe void Prefetch(void* address)
    {
        if (Sse.IsSupported) Sse.Prefetch0(address);
    }
}
