using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// The Mamba mixer's non-matmul work on raw CPU memory in the (b, l, channels) layout that in_proj and x_proj produce,
/// for float and double: the causal depthwise conv with SiLU, and the selective scan with softplus(Δ + bias), the D
/// skip and the silu(z) gate (<see cref="MixerConvKernel{T, TV}"/>, <see cref="MixerScanKernel{T, TV}"/>, at 256 or
/// 512 bits as <see cref="FusedMixer.VectorBits"/> says). SIMD runs across channels (a block of neighbouring channels
/// per vector), so one time step of a block is a handful of contiguous loads and there is no transpose, no horizontal
/// sum in the forward and no copy between the projections and the kernel. Parallelism is over (batch row, channel
/// block); a channel count that is not a multiple of the width ends in a partial block whose missing lanes load as
/// zeros (a zero lane has u = 0, so its state stays 0 and it contributes nothing to the sums over channels).
/// Must equal the tensor-op mixer (<c>MambaMixer</c> with a tensor-op scan) in values and gradients.
/// </summary>
internal static unsafe class MixerKernel<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    /// <summary>Below this many (time step × channel × state) units a kernel call runs on the calling thread: a hand-off to the pool costs more.</summary>
    internal const long SerialWork = 1 << 15;

    // ---------------------------------------------------------------- conv (MixerConvKernel at the chosen width)

    /// <inheritdoc cref="MixerConvKernel{T, TV}.ConvForward"/>
    public static void ConvForward(in MixerBuffers p)
    {
        if (FusedMixer.VectorBits == 512) MixerConvKernel<T, Lanes512<T>>.ConvForward(p);
        else MixerConvKernel<T, Lanes256<T>>.ConvForward(p);
    }

    /// <inheritdoc cref="MixerConvKernel{T, TV}.ConvBackward"/>
    public static void ConvBackward(in MixerBuffers p)
    {
        if (FusedMixer.VectorBits == 512) MixerConvKernel<T, Lanes512<T>>.ConvBackward(p);
        else MixerConvKernel<T, Lanes256<T>>.ConvBackward(p);
    }

    // ---------------------------------------------------------------- scan (MixerScanKernel at the chosen width)

    /// <inheritdoc cref="MixerScanKernel{T, TV}.ScanForward"/>
    public static void ScanForward(in MixerBuffers p)
    {
        if (FusedMixer.VectorBits == 512) MixerScanKernel<T, Lanes512<T>>.ScanForward(p);
        else MixerScanKernel<T, Lanes256<T>>.ScanForward(p);
    }

    /// <inheritdoc cref="MixerScanKernel{T, TV}.ScanBackward"/>
    public static void ScanBackward(in MixerBuffers p, int tasksPerBatch)
    {
        if (FusedMixer.VectorBits == 512) MixerScanKernel<T, Lanes512<T>>.ScanBackward(p, tasksPerBatch);
        else MixerScanKernel<T, Lanes256<T>>.ScanBackward(p, tasksPerBatch);
    }

    /// <inheritdoc cref="MixerScanKernel{T, TV}.BackwardTasksPerBatch"/>
    public static int BackwardTasksPerBatch(long batch, long channels, long work) => FusedMixer.VectorBits == 512
        ? MixerScanKernel<T, Lanes512<T>>.BackwardTasksPerBatch(batch, channels, work)
        : MixerScanKernel<T, Lanes256<T>>.BackwardTasksPerBatch(batch, channels, work);

    // ---------------------------------------------------------------- helpers

    /// <summary>How many tasks <see cref="For"/> splits <paramref name="items"/> of this much work into: 1 (the calling thread) when the work is small, else a few per core.</summary>
    internal static int Tasks(long items, long work) =>
        work < SerialWork || items == 1 || FusedMixer.Threads == 1 ? 1 : (int)Math.Min(items, 4L * FusedMixer.Threads);

    /// <summary>Runs <paramref name="body"/> for 0..items−1: inline when the work is small, else on the thread pool in a few chunks per core.</summary>
    internal static void For(long items, long work, Action<long> body)
    {
        int tasks = Tasks(items, work);
        if (tasks == 1)
        {
            for (long i = 0; i < items; i++) body(i);
            return;
        }
        Parallel.For(0, tasks, task =>
        {
            for (long i = items * task / tasks, end = items * (task + 1) / tasks; i < end; i++) body(i);
        });
    }
}
