using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// The Mamba mixer's non-matmul work on raw CPU memory in the (b, l, channels) layout that in_proj and x_proj produce,
/// for float and double: the causal depthwise conv with SiLU, and the selective scan with softplus(Δ + bias), the D
/// skip and the silu(z) gate. SIMD runs across channels (a block of <see cref="Width"/> neighbouring channels per
/// vector), so one time step of a block is a handful of contiguous loads and there is no transpose, no horizontal
/// sum in the forward and no copy between the projections and the kernel. Parallelism is over (batch row, channel
/// block); a channel count that is not a multiple of the width ends in a partial block whose missing lanes load as
/// zeros (a zero lane has u = 0, so its state stays 0 and it contributes nothing to the sums over channels).
/// Must equal the tensor-op mixer (<c>MambaMixer</c> with a tensor-op scan) in values and gradients.
/// </summary>
internal static unsafe class MixerKernel<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    public static readonly int Width = Vector256<T>.Count;

    /// <summary>Below this many (time step × channel × state) units a kernel call runs on the calling thread: a hand-off to the pool costs more.</summary>
    internal const long SerialWork = 1 << 15;

    static long Blocks(long channels) => (channels + Width - 1) / Width;

    /// <summary>How many rows ahead the conv kernels prefetch (each row is a page apart at d_inner 1024).</summary>
    const int PrefetchRows = 16;

    // ---------------------------------------------------------------- conv

    /// <summary>xc[b, t, c] = silu(bias[c] + Σ_k w[k, c]·xpad[b, t + k, c]), xpad = (left context or zeros, x).</summary>
    public static void ConvForward(in MixerBuffers p)
    {
        MixerBuffers args = p;
        long blocks = Blocks(args.Channels), items = args.Batch * blocks;
        For(items, args.Length * args.Channels * args.Kernel, item => ConvForwardBlock(args, item / blocks, item % blocks * Width));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // SIMD loops: fully optimised from the first call, not tier-0
    static void ConvForwardBlock(in MixerBuffers p, long bi, long c0)
    {
        int lanes = (int)Math.Min(Width, p.Channels - c0);
        long e = p.Channels, k = p.Kernel, l = p.Length;
        T* outRow = (T*)p.ConvOut + bi * l * e + c0, x = (T*)p.Xz + bi * l * p.XzStride + c0;
        Vector256<T>* scratch = stackalloc Vector256<T>[2 * (int)k + 1];                  // one spare vector to align in
        Span<Vector256<T>> all = new(VectorOps.Aligned(scratch), 2 * (int)k);
        Span<Vector256<T>> w = all[..(int)k];
        Vector256<T> bias = ConvParameters(p, c0, lanes, w);
        Span<Vector256<T>> window = all[(int)k..];                                       // xpad[t .. t+k-1] = x[t-k+1 .. t]
        StartWindow(p, bi, c0, lanes, window);
        for (long t = 0; t < l; t++)
        {
            if (t + PrefetchRows < l)
            {
                VectorOps.Prefetch(x + (t + PrefetchRows) * p.XzStride);
                VectorOps.Prefetch(outRow + (t + PrefetchRows) * e);
            }
            window[(int)k - 1] = Load(x + t * p.XzStride, lanes);
            Vector256<T> pre = PreActivation(w, window, bias);
            Store(pre * SelectiveScanKernel<T>.Sigmoid(pre), outRow + t * e, lanes);
            Shift(window);
        }
    }

    /// <summary>The first k−1 entries of the conv window: the left context (the carried conv state) or zeros.</summary>
    static void StartWindow(in MixerBuffers p, long bi, long c0, int lanes, Span<Vector256<T>> window)
    {
        for (int j = 0; j < window.Length - 1; j++)
            window[j] = p.Left == 0 ? Vector256<T>.Zero : Load((T*)p.Left + (bi * (p.Kernel - 1) + j) * p.Channels + c0, lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Shift(Span<Vector256<T>> window)
    {
        for (int j = 0; j < window.Length - 1; j++) window[j] = window[j + 1];
    }

    /// <summary>Loads a block's conv weights (one vector per tap, from conv1d's (e, 1, k) layout) into <paramref name="w"/>; returns its bias.</summary>
    static Vector256<T> ConvParameters(in MixerBuffers p, long c0, int lanes, Span<Vector256<T>> w)
    {
        for (int j = 0; j < p.Kernel; j++) w[j] = Gather((T*)p.ConvWeight + c0 * p.Kernel + j, p.Kernel, lanes);
        return p.ConvBias == 0 ? Vector256<T>.Zero : Load((T*)p.ConvBias + c0, lanes);
    }

    /// <summary>bias + Σ_k w[k]·window[k]: the pre-activation at the time the window ends.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<T> PreActivation(ReadOnlySpan<Vector256<T>> w, ReadOnlySpan<Vector256<T>> window, Vector256<T> bias)
    {
        Vector256<T> acc = bias;
        for (int j = 0; j < w.Length; j++) acc = Fma(w[j], window[j], acc);
        return acc;
    }

    /// <summary>
    /// Backward of <see cref="ConvForward"/>: recomputes the pre-activation and ∂L/∂pre step by step, writes
    /// ∂L/∂x[s] = Σ_k w[k]·∂L/∂pre[s + k−1−k'] once the k pre-activations it feeds are known (into the x half of a
    /// (b, l, 2e) buffer whose z half it zeroes) and the left context's gradient, and sums the weight and bias
    /// gradients per batch row.
    /// </summary>
    public static void ConvBackward(in MixerBuffers p)
    {
        MixerBuffers args = p;
        long blocks = Blocks(args.Channels), items = args.Batch * blocks;
        For(items, 2 * args.Length * args.Channels * args.Kernel, item => ConvBackwardBlock(args, item / blocks, item % blocks * Width));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // SIMD loops: fully optimised from the first call, not tier-0
    static void ConvBackwardBlock(in MixerBuffers p, long bi, long c0)
    {
        int lanes = (int)Math.Min(Width, p.Channels - c0);
        long e = p.Channels, k = p.Kernel, l = p.Length;
        T* gOutRow = (T*)p.GradConvOut + bi * l * e + c0, x = (T*)p.Xz + bi * l * p.XzStride + c0, gx = (T*)p.GradXz + bi * l * p.XzStride + c0;
        Vector256<T>* scratch = stackalloc Vector256<T>[4 * (int)k + 1];                  // one spare vector to align in
        Span<Vector256<T>> all = new(VectorOps.Aligned(scratch), 4 * (int)k);
        Span<Vector256<T>> w = all[..(int)k];
        Vector256<T> bias = ConvParameters(p, c0, lanes, w);
        Span<Vector256<T>> dw = all.Slice((int)k, (int)k);
        dw.Clear();
        Span<Vector256<T>> window = all.Slice(2 * (int)k, (int)k);      // x[t-k+1 .. t]
        Span<Vector256<T>> dWindow = all.Slice(3 * (int)k, (int)k);     // ∂L/∂pre[t-k+1 .. t]
        dWindow.Clear();
        StartWindow(p, bi, c0, lanes, window);
        Vector256<T> db = Vector256<T>.Zero;
        for (long t = 0; t < l + k - 1; t++)
        {
            Vector256<T> dPre = Vector256<T>.Zero;
            if (t + PrefetchRows < l)
            {
                VectorOps.Prefetch(x + (t + PrefetchRows) * p.XzStride);
                VectorOps.Prefetch(gOutRow + (t + PrefetchRows) * e);
                VectorOps.Prefetch(gx + (t + PrefetchRows) * p.XzStride);
            }
            if (t < l)
            {
                window[(int)k - 1] = Load(x + t * p.XzStride, lanes);
                Vector256<T> pre = PreActivation(w, window, bias);
                Vector256<T> sig = SelectiveScanKernel<T>.Sigmoid(pre);
                dPre = Load(gOutRow + t * e, lanes) * sig * (Vector256<T>.One + pre * (Vector256<T>.One - sig));
                db += dPre;
                for (int j = 0; j < k; j++) dw[j] = Fma(dPre, window[j], dw[j]);
                Shift(window);
            }
            dWindow[(int)k - 1] = dPre;
            // x at s = t-k+1 feeds the pre-activations at s .. s+k-1, all known now: ∂L/∂x[s] = Σ_j w[j]·∂L/∂pre[s+k-1-j].
            Vector256<T> gradInput = Vector256<T>.Zero;
            for (int j = 0; j < k; j++) gradInput = Fma(w[j], dWindow[(int)k - 1 - j], gradInput);
            long s = t - (k - 1);
            if (s >= 0)
            {
                Store(gradInput, gx + s * p.XzStride, lanes);
                if (!p.GradXzHoldsZ) Store(Vector256<T>.Zero, gx + s * p.XzStride + e, lanes);
            }
            else if (p.GradLeft != 0) Store(gradInput, (T*)p.GradLeft + (bi * (k - 1) + k - 1 + s) * e + c0, lanes);
            Shift(dWindow);
        }
        for (int j = 0; j < k; j++) Scatter(dw[j], (T*)p.GradConvWeightPartial + (bi * e + c0) * k + j, k, lanes);
        Store(db, (T*)p.GradConvBiasPartial + bi * e + c0, lanes);
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

    /// <summary>Runs <paramref name="body"/> for 0..items−1: inline when the work is small, else on the thread pool in a few chunks per core.</summary>
    internal static void For(long items, long work, Action<long> body)
    {
        int threads = FusedMixer.Threads;
        if (work < SerialWork || items == 1 || threads == 1)
        {
            for (long i = 0; i < items; i++) body(i);
            return;
        }
        int tasks = (int)Math.Min(items, 4L * threads);
        Parallel.For(0, tasks, task =>
        {
            for (long i = items * task / tasks, end = items * (task + 1) / tasks; i < end; i++) body(i);
        });
    }

    static Vector256<T> Gather(T* source, long stride, int lanes) => MixerScanKernel<T, Lanes256<T>>.Gather(source, stride, lanes).V;

    static void Scatter(Vector256<T> value, T* target, long stride, int lanes) => MixerScanKernel<T, Lanes256<T>>.Scatter(new(value), target, stride, lanes);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<T> Fma(Vector256<T> a, Vector256<T> b, Vector256<T> c) => VectorOps.Fma(a, b, c);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<T> Load(T* source, int lanes) => Lanes256<T>.Load(source, lanes).V;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(Vector256<T> value, T* target, int lanes) => Lanes256<T>.Store(new(value), target, lanes);
}
