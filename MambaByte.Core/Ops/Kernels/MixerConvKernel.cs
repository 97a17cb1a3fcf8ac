using System.Numerics;
using System.Runtime.CompilerServices;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// The mixer's causal depthwise conv + SiLU (see <see cref="MixerKernel{T}"/> for the layout and the parallel split),
/// written once against <see cref="ISimdLanes{TSelf, T}"/> so that it runs at 256 or 512 bits: a block is
/// <see cref="Width"/> neighbouring channels and walks the sequence with its window of the last k inputs. For
/// mamba_ssm's d_conv 4 the window and the taps live in locals (registers), so a step shifts registers instead of
/// copying the window through memory; other widths keep them in aligned scratch.
/// </summary>
internal static unsafe class MixerConvKernel<T, TV>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
    where TV : unmanaged, ISimdLanes<TV, T>
{
    static int Width => TV.Count;

    /// <summary>How many rows ahead the kernels prefetch (each row is a page apart at d_inner 1024).</summary>
    const int PrefetchRows = 16;

    static long Blocks(long channels) => (channels + Width - 1) / Width;

    /// <summary>xc[b, t, c] = silu(bias[c] + Σ_k w[k, c]·xpad[b, t + k, c]), xpad = (left context or zeros, x).</summary>
    public static void ConvForward(in MixerBuffers p)
    {
        MixerBuffers args = p;
        long blocks = Blocks(args.Channels), items = args.Batch * blocks;
        MixerKernel<T>.For(items, args.Length * args.Channels * args.Kernel, item =>
        {
            long bi = item / blocks, c0 = item % blocks * Width;
            if (args.Kernel == 4) ConvForward4(args, bi, c0);
            else
            {
                TV* scratch = stackalloc TV[2 * (int)args.Kernel + 1];                        // one spare vector to align in
                ConvForwardAny(args, bi, c0, VectorOps.Aligned(scratch));
            }
        });
    }

    /// <summary>
    /// Backward of <see cref="ConvForward"/>: recomputes the pre-activation and ∂L/∂pre step by step, writes
    /// ∂L/∂x[s] = Σ_j w[j]·∂L/∂pre[s + k−1−j] once the k pre-activations it feeds are known (into the x half of a
    /// (b, l, 2e) buffer, zeroing the z half unless it already holds ∂L/∂z) and the left context's gradient, and sums
    /// the weight and bias gradients per batch row.
    /// </summary>
    public static void ConvBackward(in MixerBuffers p)
    {
        MixerBuffers args = p;
        long blocks = Blocks(args.Channels), items = args.Batch * blocks;
        MixerKernel<T>.For(items, 2 * args.Length * args.Channels * args.Kernel, item =>
        {
            long bi = item / blocks, c0 = item % blocks * Width;
            if (args.Kernel == 4) ConvBackward4(args, bi, c0);
            else
            {
                TV* scratch = stackalloc TV[4 * (int)args.Kernel + 1];                        // one spare vector to align in
                ConvBackwardAny(args, bi, c0, VectorOps.Aligned(scratch));
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // SIMD loops: fully optimised from the first call, not tier-0
    static void ConvForward4(in MixerBuffers p, long bi, long c0)
    {
        int lanes = (int)Math.Min(Width, p.Channels - c0);
        long e = p.Channels, l = p.Length, xs = p.XzStride;
        T* outRow = (T*)p.ConvOut + bi * l * e + c0;
        long xRow = bi * l * xs + c0;                                                      // x[t] at xRow + t·xs in xz (T or bf16)
        bool xb = p.XzBFloat16;
        TV w0 = Tap(p, c0, 0, lanes), w1 = Tap(p, c0, 1, lanes), w2 = Tap(p, c0, 2, lanes), w3 = Tap(p, c0, 3, lanes);
        TV bias = Bias(p, c0, lanes);
        TV x0 = LeftContext(p, bi, c0, 0, lanes), x1 = LeftContext(p, bi, c0, 1, lanes), x2 = LeftContext(p, bi, c0, 2, lanes);
        for (long t = 0; t < l; t++)
        {
            if (t + PrefetchRows < l)
            {
                VectorOps.Prefetch(Elements<T, TV>.At(p.Xz, xRow + (t + PrefetchRows) * xs, xb));
                VectorOps.Prefetch(outRow + (t + PrefetchRows) * e);
            }
            TV x3 = Elements<T, TV>.Load(p.Xz, xRow + t * xs, xb, lanes);
            TV pre = TV.Fma(w3, x3, TV.Fma(w2, x2, TV.Fma(w1, x1, TV.Fma(w0, x0, bias))));
            TV.Store(pre * TV.Sigmoid(pre), outRow + t * e, lanes);
            x0 = x1;
            x1 = x2;
            x2 = x3;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ConvBackward4(in MixerBuffers p, long bi, long c0)
    {
        int lanes = (int)Math.Min(Width, p.Channels - c0);
        long e = p.Channels, l = p.Length, xs = p.XzStride;
        T* gOutRow = (T*)p.GradConvOut + bi * l * e + c0;
        long xRow = bi * l * xs + c0;                                                      // x[t] and ∂L/∂x[t] at xRow + t·xs (T or bf16)
        bool xb = p.XzBFloat16;
        TV w0 = Tap(p, c0, 0, lanes), w1 = Tap(p, c0, 1, lanes), w2 = Tap(p, c0, 2, lanes), w3 = Tap(p, c0, 3, lanes);
        TV bias = Bias(p, c0, lanes);
        TV x0 = LeftContext(p, bi, c0, 0, lanes), x1 = LeftContext(p, bi, c0, 1, lanes), x2 = LeftContext(p, bi, c0, 2, lanes);
        TV dw0 = TV.Zero, dw1 = TV.Zero, dw2 = TV.Zero, dw3 = TV.Zero, db = TV.Zero;
        TV d1 = TV.Zero, d2 = TV.Zero, d3 = TV.Zero;                                     // ∂L/∂pre at t−2, t−1, t (d0 = t−3 is formed below)
        bool zeroZ = !p.GradXzHoldsZ;
        for (long t = 0; t < l + 3; t++)
        {
            if (t + PrefetchRows < l)
            {
                VectorOps.Prefetch(Elements<T, TV>.At(p.Xz, xRow + (t + PrefetchRows) * xs, xb));
                VectorOps.Prefetch(gOutRow + (t + PrefetchRows) * e);
                VectorOps.Prefetch(Elements<T, TV>.At(p.GradXz, xRow + (t + PrefetchRows) * xs, xb));
            }
            TV d0 = d1;
            d1 = d2;
            d2 = d3;
            d3 = TV.Zero;
            if (t < l)
            {
                TV x3 = Elements<T, TV>.Load(p.Xz, xRow + t * xs, xb, lanes);
                TV pre = TV.Fma(w3, x3, TV.Fma(w2, x2, TV.Fma(w1, x1, TV.Fma(w0, x0, bias))));
                TV sig = TV.Sigmoid(pre);
                d3 = TV.Load(gOutRow + t * e, lanes) * sig * (TV.One + pre * (TV.One - sig));   // silu'(pre)
                db += d3;
                dw0 = TV.Fma(d3, x0, dw0);
                dw1 = TV.Fma(d3, x1, dw1);
                dw2 = TV.Fma(d3, x2, dw2);
                dw3 = TV.Fma(d3, x3, dw3);
                x0 = x1;
                x1 = x2;
                x2 = x3;
            }
            // x at s = t−3 feeds the pre-activations at s .. s+3, all known now: ∂L/∂x[s] = Σ_j w[j]·∂L/∂pre[s+3−j].
            TV gradInput = TV.Fma(w3, d0, TV.Fma(w2, d1, TV.Fma(w1, d2, w0 * d3)));
            long s = t - 3;
            if (s >= 0)
            {
                Elements<T, TV>.Store(gradInput, p.GradXz, xRow + s * xs, xb, lanes);
                if (zeroZ) Elements<T, TV>.Store(TV.Zero, p.GradXz, xRow + s * xs + e, xb, lanes);
            }
            else if (p.GradLeft != 0) TV.Store(gradInput, (T*)p.GradLeft + (bi * 3 + 3 + s) * e + c0, lanes);
        }
        T* gw = (T*)p.GradConvWeightPartial + (bi * e + c0) * 4;
        MixerScanKernel<T, TV>.Scatter(dw0, gw, 4, lanes);
        MixerScanKernel<T, TV>.Scatter(dw1, gw + 1, 4, lanes);
        MixerScanKernel<T, TV>.Scatter(dw2, gw + 2, 4, lanes);
        MixerScanKernel<T, TV>.Scatter(dw3, gw + 3, 4, lanes);
        TV.Store(db, (T*)p.GradConvBiasPartial + bi * e + c0, lanes);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ConvForwardAny(in MixerBuffers p, long bi, long c0, TV* scratch)
    {
        int lanes = (int)Math.Min(Width, p.Channels - c0), k = (int)p.Kernel;
        long e = p.Channels, l = p.Length, xs = p.XzStride;
        T* outRow = (T*)p.ConvOut + bi * l * e + c0;
        long xRow = bi * l * xs + c0;                                                      // x[t] at xRow + t·xs in xz (T or bf16)
        bool xb = p.XzBFloat16;
        TV* w = scratch, window = scratch + k;                                               // window = x[t-k+1 .. t]
        for (int j = 0; j < k; j++) w[j] = Tap(p, c0, j, lanes);
        TV bias = Bias(p, c0, lanes);
        for (int j = 0; j < k - 1; j++) window[j] = LeftContext(p, bi, c0, j, lanes);
        for (long t = 0; t < l; t++)
        {
            if (t + PrefetchRows < l)
            {
                VectorOps.Prefetch(Elements<T, TV>.At(p.Xz, xRow + (t + PrefetchRows) * xs, xb));
                VectorOps.Prefetch(outRow + (t + PrefetchRows) * e);
            }
            window[k - 1] = Elements<T, TV>.Load(p.Xz, xRow + t * xs, xb, lanes);
            TV pre = bias;
            for (int j = 0; j < k; j++) pre = TV.Fma(w[j], window[j], pre);
            TV.Store(pre * TV.Sigmoid(pre), outRow + t * e, lanes);
            for (int j = 0; j < k - 1; j++) window[j] = window[j + 1];
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void ConvBackwardAny(in MixerBuffers p, long bi, long c0, TV* scratch)
    {
        int lanes = (int)Math.Min(Width, p.Channels - c0), k = (int)p.Kernel;
        long e = p.Channels, l = p.Length, xs = p.XzStride;
        T* gOutRow = (T*)p.GradConvOut + bi * l * e + c0;
        long xRow = bi * l * xs + c0;                                                      // x[t] and ∂L/∂x[t] at xRow + t·xs (T or bf16)
        bool xb = p.XzBFloat16;
        TV* w = scratch, dw = scratch + k, window = scratch + 2 * k, dWindow = scratch + 3 * k;   // x[t-k+1 .. t], ∂L/∂pre[t-k+1 .. t]
        for (int j = 0; j < k; j++)
        {
            w[j] = Tap(p, c0, j, lanes);
            dw[j] = TV.Zero;
            dWindow[j] = TV.Zero;
        }
        TV bias = Bias(p, c0, lanes), db = TV.Zero;
        for (int j = 0; j < k - 1; j++) window[j] = LeftContext(p, bi, c0, j, lanes);
        for (long t = 0; t < l + k - 1; t++)
        {
            TV dPre = TV.Zero;
            if (t + PrefetchRows < l)
            {
                VectorOps.Prefetch(Elements<T, TV>.At(p.Xz, xRow + (t + PrefetchRows) * xs, xb));
                VectorOps.Prefetch(gOutRow + (t + PrefetchRows) * e);
                VectorOps.Prefetch(Elements<T, TV>.At(p.GradXz, xRow + (t + PrefetchRows) * xs, xb));
            }
            if (t < l)
            {
                window[k - 1] = Elements<T, TV>.Load(p.Xz, xRow + t * xs, xb, lanes);
                TV pre = bias;
                for (int j = 0; j < k; j++) pre = TV.Fma(w[j], window[j], pre);
                TV sig = TV.Sigmoid(pre);
                dPre = TV.Load(gOutRow + t * e, lanes) * sig * (TV.One + pre * (TV.One - sig));
                db += dPre;
                for (int j = 0; j < k; j++) dw[j] = TV.Fma(dPre, window[j], dw[j]);
                for (int j = 0; j < k - 1; j++) window[j] = window[j + 1];
            }
            dWindow[k - 1] = dPre;
            TV gradInput = TV.Zero;
            for (int j = 0; j < k; j++) gradInput = TV.Fma(w[j], dWindow[k - 1 - j], gradInput);
            long s = t - (k - 1);
            if (s >= 0)
            {
                Elements<T, TV>.Store(gradInput, p.GradXz, xRow + s * xs, xb, lanes);
                if (!p.GradXzHoldsZ) Elements<T, TV>.Store(TV.Zero, p.GradXz, xRow + s * xs + e, xb, lanes);
            }
            else if (p.GradLeft != 0) TV.Store(gradInput, (T*)p.GradLeft + (bi * (k - 1) + k - 1 + s) * e + c0, lanes);
            for (int j = 0; j < k - 1; j++) dWindow[j] = dWindow[j + 1];
        }
        for (int j = 0; j < k; j++) MixerScanKernel<T, TV>.Scatter(dw[j], (T*)p.GradConvWeightPartial + (bi * e + c0) * k + j, k, lanes);
        TV.Store(db, (T*)p.GradConvBiasPartial + bi * e + c0, lanes);
    }

    /// <summary>Tap j of a block's conv weights (conv1d's (e, 1, k) layout: a column of stride k).</summary>
    static TV Tap(in MixerBuffers p, long c0, int j, int lanes) => MixerScanKernel<T, TV>.Gather((T*)p.ConvWeight + c0 * p.Kernel + j, p.Kernel, lanes);

    static TV Bias(in MixerBuffers p, long c0, int lanes) => p.ConvBias == 0 ? TV.Zero : TV.Load((T*)p.ConvBias + c0, lanes);

    /// <summary>Entry j of the k−1 inputs before the first: the left context (the carried conv state) or zeros.</summary>
    static TV LeftContext(in MixerBuffers p, long bi, long c0, int j, int lanes) =>
        p.Left == 0 ? TV.Zero : TV.Load((T*)p.Left + (bi * (p.Kernel - 1) + j) * p.Channels + c0, lanes);
}
