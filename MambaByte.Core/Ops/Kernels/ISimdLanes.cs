using System.Numerics;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// The SIMD vector a scan kernel is written against: <see cref="Lanes256{T}"/> (AVX2) or <see cref="Lanes512{T}"/>
/// (AVX-512: one instruction does twice the lanes, which measured 1.6× faster on the scan's inner loop on a Zen 4,
/// whose 512-bit units are 256 bits wide, because the loop is bound by how many operations issue, not by the FMA units).
/// The kernel's code is the same for both: the JIT specialises it for each struct, so the operators cost nothing.
/// </summary>
internal unsafe interface ISimdLanes<TSelf, T>
    where TSelf : unmanaged, ISimdLanes<TSelf, T>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Lanes per vector: the channels one block of the kernel covers.</summary>
    static abstract int Count { get; }

    static abstract TSelf Zero { get; }
    static abstract TSelf One { get; }
    static abstract TSelf Broadcast(T value);

    /// <summary>The first <paramref name="lanes"/> elements at <paramref name="source"/>; the other lanes are zero.</summary>
    static abstract TSelf Load(T* source, int lanes);

    /// <summary>Writes the first <paramref name="lanes"/> lanes to <paramref name="target"/>.</summary>
    static abstract void Store(TSelf value, T* target, int lanes);

    /// <summary>
    /// The first <paramref name="lanes"/> bfloat16 values (raw bits) at <paramref name="source"/>, widened exactly; the
    /// other lanes are zero. Float lanes only: bf16 tensors are read and written by float kernels.
    /// </summary>
    static abstract TSelf LoadBFloat16(ushort* source, int lanes);

    /// <summary>Writes the first <paramref name="lanes"/> lanes to <paramref name="target"/> rounded to bfloat16 as libtorch rounds (<see cref="BFloat16Rows.Narrow"/>). Float lanes only.</summary>
    static abstract void StoreBFloat16(TSelf value, ushort* target, int lanes);

    static abstract TSelf FromSpan(ReadOnlySpan<T> values);
    static abstract T Element(TSelf value, int lane);

    static abstract TSelf operator +(TSelf a, TSelf b);
    static abstract TSelf operator -(TSelf a, TSelf b);
    static abstract TSelf operator *(TSelf a, TSelf b);

    /// <summary>a·b + c in one rounding.</summary>
    static abstract TSelf Fma(TSelf a, TSelf b, TSelf c);

    /// <summary>exp(Δ·A) from Δ and A·<see cref="SelectiveScanKernel{T}.RateScale"/>.</summary>
    static abstract TSelf Decay(TSelf dt, TSelf scaledRate);

    static abstract TSelf Softplus(TSelf x);
    static abstract TSelf Sigmoid(TSelf x);

    /// <summary>target[j] += Σ_lanes terms[j·stride] for j &lt; n.</summary>
    static abstract void AddLaneSums(TSelf* terms, int stride, T* target, int n);
}
