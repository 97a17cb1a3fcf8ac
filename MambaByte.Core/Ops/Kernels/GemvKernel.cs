using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// Matrix–vector products for the recurrent step: y[b, o] = Σ_j W[o, j]·x[b, j] (+ bias[o]) for a batch of input
/// rows, W stored row-major (out, in) as torch's <c>Linear.weight</c>. The weights are read once per call whatever
/// the batch: each block of four output rows is kept in L1 while every input row passes over it (four at a time,
/// sixteen accumulators; at batch 1–3, blocks of eight rows for eight FMA chains). Rows are split over the cores when the product is large enough to pay for the hand-off
/// (<see cref="ParallelThreshold"/>). The weight element type is a generic load (<see cref="IWeightLoad{T}"/>) so
/// fp32/fp64, bf16 and int8 weights share one loop; int8 rows carry one scale each, applied to the finished dot.
/// <see cref="Reference"/> is the plain definition every variant is tested against.
/// </summary>
internal static unsafe class GemvKernel<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    static readonly int Width = Vector256<T>.Count;

    /// <summary>
    /// Multiply-adds (rows × columns × batch) from which the rows are split over the cores. Measured on the 2-core
    /// development machine (AMD EPYC) with nothing else running, split from 2²⁰ against split from 2²⁴ alternated in
    /// the same minutes (medians of 6 rounds of 20 steps): d_model 768 × 24 at batch 1 (in_proj 2.4M) 58.0 against
    /// 45.1 bytes/s in fp32 and 87.5 against 59.3 with int8 weights; at batch 4, 161 against 102 (fp32); d_model 256 × 4
    /// at batch 16 (in_proj 4.2M) 9,177 against 6,416; at batch 1 (in_proj 262K, below both) 4,020 against 4,075.
    /// An earlier measurement with other sessions loading both cores (load average about 5) had found splitting no
    /// better: set it higher on a machine whose other core is busy.
    /// </summary>
    public static long ParallelThreshold { get; set; } = 1L << 20;

    /// <summary>The definition: one output at a time, a plain loop in T.</summary>
    public static void Reference<TLoad>(in GemvMatrix w, T* x, long xStride, int batch, T* y, long yStride) where TLoad : IWeightLoad<T>
    {
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < w.Rows; o++)
            {
                T sum = T.Zero;
                nint row = TLoad.Row(w, o);
                for (int j = 0; j < w.Cols; j++) sum += TLoad.LoadScalar(row, j) * x[b * xStride + j];
                if (w.Scales != 0) sum *= T.CreateTruncating(((float*)w.Scales)[o]);
                if (w.Bias != 0) sum += ((T*)w.Bias)[o];
                y[b * yStride + o] = sum;
            }
    }

    /// <summary>y (batch, yStride) ← W·x for every input row of x (batch, xStride); x and y must not overlap.</summary>
    public static void Run<TLoad>(in GemvMatrix w, T* x, long xStride, int batch, T* y, long yStride) where TLoad : IWeightLoad<T>
    {
        long work = (long)w.Rows * w.Cols * batch;
        int tasks = Environment.ProcessorCount;
        if (work < ParallelThreshold || tasks == 1 || w.Rows < 8)
        {
            Rows<TLoad>(w, x, xStride, batch, y, yStride, 0, w.Rows);
            return;
        }
        GemvMatrix m = w;
        nint xs = (nint)x, ys = (nint)y;
        // Row ranges in multiples of 4 so every task runs whole blocks.
        int blocks = (w.Rows + 3) / 4;
        tasks = Math.Min(tasks, blocks);
        Parallel.For(0, tasks, task =>
        {
            int first = (int)((long)blocks * task / tasks) * 4, end = Math.Min(m.Rows, (int)((long)blocks * (task + 1) / tasks) * 4);
            Rows<TLoad>(m, (T*)xs, xStride, batch, (T*)ys, yStride, first, end);
        });
    }

    // Every output is summed in one order whatever the batch, block or thread: one vector accumulator over the
    // column chunks in turn, its lanes summed, then the scalar tail. So a sequence's logits do not depend on which
    // other sequences share its batch (batched generation equals generating each sequence alone, bit for bit).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Rows<TLoad>(in GemvMatrix w, T* x, long xStride, int batch, T* y, long yStride, int first, int end) where TLoad : IWeightLoad<T>
    {
        // Inputs in fours through the 4×4 blocks; the last 1–3 inputs (and batches below 4) through the 8×1 blocks,
        // whose eight chains keep the FMA units busy where one dot product at a time would wait on each FMA.
        int quads = batch / 4 * 4;
        int o = first;
        if (quads > 0)
        {
            for (; o + 4 <= end; o += 4)
                for (int b = 0; b < quads; b += 4) Block4x4<TLoad>(w, o, x + b * xStride, xStride, y + b * yStride, yStride);
            for (; o < end; o++)
                for (int b = 0; b < quads; b++) y[b * yStride + o] = Finish(w, o, Dot<TLoad>(w, o, x + b * xStride));
        }
        for (o = first; o + 8 <= end; o += 8)
            for (int b = quads; b < batch; b++) Block8x1<TLoad>(w, o, x + b * xStride, y + b * yStride);
        for (; o < end; o++)
            for (int b = quads; b < batch; b++) y[b * yStride + o] = Finish(w, o, Dot<TLoad>(w, o, x + b * xStride));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static T Finish(in GemvMatrix w, int o, T dot)
    {
        if (w.Scales != 0) dot *= T.CreateTruncating(((float*)w.Scales)[o]);
        if (w.Bias != 0) dot += ((T*)w.Bias)[o];
        return dot;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static T Dot<TLoad>(in GemvMatrix w, int o, T* x) where TLoad : IWeightLoad<T>
    {
        int n = w.Cols, j = 0;
        nint row = TLoad.Row(w, o);
        Vector256<T> acc = Vector256<T>.Zero;
        for (; j + Width <= n; j += Width) acc = VectorOps.Fma(TLoad.Load(row, j), Vector256.Load(x + j), acc);
        T sum = Vector256.Sum(acc);
        for (; j < n; j++) sum += TLoad.LoadScalar(row, j) * x[j];
        return sum;
    }

    /// <summary>Eight rows against one input: eight independent FMA chains keep the FMA units busy at batch 1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block8x1<TLoad>(in GemvMatrix w, int o, T* x, T* y) where TLoad : IWeightLoad<T>
    {
        int n = w.Cols, j = 0;
        nint r0 = TLoad.Row(w, o), r1 = TLoad.Row(w, o + 1), r2 = TLoad.Row(w, o + 2), r3 = TLoad.Row(w, o + 3);
        nint r4 = TLoad.Row(w, o + 4), r5 = TLoad.Row(w, o + 5), r6 = TLoad.Row(w, o + 6), r7 = TLoad.Row(w, o + 7);
        Vector256<T> a0 = default, a1 = default, a2 = default, a3 = default, a4 = default, a5 = default, a6 = default, a7 = default;
        for (; j + Width <= n; j += Width)
        {
            Vector256<T> xv = Vector256.Load(x + j);
            a0 = VectorOps.Fma(TLoad.Load(r0, j), xv, a0);
            a1 = VectorOps.Fma(TLoad.Load(r1, j), xv, a1);
            a2 = VectorOps.Fma(TLoad.Load(r2, j), xv, a2);
            a3 = VectorOps.Fma(TLoad.Load(r3, j), xv, a3);
            a4 = VectorOps.Fma(TLoad.Load(r4, j), xv, a4);
            a5 = VectorOps.Fma(TLoad.Load(r5, j), xv, a5);
            a6 = VectorOps.Fma(TLoad.Load(r6, j), xv, a6);
            a7 = VectorOps.Fma(TLoad.Load(r7, j), xv, a7);
        }
        Span<T> s = stackalloc T[8];
        s[0] = Vector256.Sum(a0); s[1] = Vector256.Sum(a1); s[2] = Vector256.Sum(a2); s[3] = Vector256.Sum(a3);
        s[4] = Vector256.Sum(a4); s[5] = Vector256.Sum(a5); s[6] = Vector256.Sum(a6); s[7] = Vector256.Sum(a7);
        for (; j < n; j++)
        {
            T xj = x[j];
            s[0] += TLoad.LoadScalar(r0, j) * xj; s[1] += TLoad.LoadScalar(r1, j) * xj; s[2] += TLoad.LoadScalar(r2, j) * xj; s[3] += TLoad.LoadScalar(r3, j) * xj;
            s[4] += TLoad.LoadScalar(r4, j) * xj; s[5] += TLoad.LoadScalar(r5, j) * xj; s[6] += TLoad.LoadScalar(r6, j) * xj; s[7] += TLoad.LoadScalar(r7, j) * xj;
        }
        for (int r = 0; r < 8; r++) y[o + r] = Finish(w, o + r, s[r]);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    static void Block4x4<TLoad>(in GemvMatrix w, int o, T* x, long xStride, T* y, long yStride) where TLoad : IWeightLoad<T>
    {
        int n = w.Cols, j = 0;
        T* x0 = x, x1 = x + xStride, x2 = x + 2 * xStride, x3 = x + 3 * xStride;
        nint r0 = TLoad.Row(w, o), r1 = TLoad.Row(w, o + 1), r2 = TLoad.Row(w, o + 2), r3 = TLoad.Row(w, o + 3);
        Vector256<T> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector256<T> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector256<T> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector256<T> a30 = default, a31 = default, a32 = default, a33 = default;
        for (; j + Width <= n; j += Width)
        {
            Vector256<T> v0 = Vector256.Load(x0 + j), v1 = Vector256.Load(x1 + j), v2 = Vector256.Load(x2 + j), v3 = Vector256.Load(x3 + j);
            Vector256<T> w0 = TLoad.Load(r0, j);
            a00 = VectorOps.Fma(w0, v0, a00); a01 = VectorOps.Fma(w0, v1, a01);
            a02 = VectorOps.Fma(w0, v2, a02); a03 = VectorOps.Fma(w0, v3, a03);
            Vector256<T> w1 = TLoad.Load(r1, j);
            a10 = VectorOps.Fma(w1, v0, a10); a11 = VectorOps.Fma(w1, v1, a11);
            a12 = VectorOps.Fma(w1, v2, a12); a13 = VectorOps.Fma(w1, v3, a13);
            Vector256<T> w2 = TLoad.Load(r2, j);
            a20 = VectorOps.Fma(w2, v0, a20); a21 = VectorOps.Fma(w2, v1, a21);
            a22 = VectorOps.Fma(w2, v2, a22); a23 = VectorOps.Fma(w2, v3, a23);
            Vector256<T> w3 = TLoad.Load(r3, j);
            a30 = VectorOps.Fma(w3, v0, a30); a31 = VectorOps.Fma(w3, v1, a31);
            a32 = VectorOps.Fma(w3, v2, a32); a33 = VectorOps.Fma(w3, v3, a33);
        }
        Span<T> s = stackalloc T[16];
        s[0] = Vector256.Sum(a00); s[1] = Vector256.Sum(a01); s[2] = Vector256.Sum(a02); s[3] = Vector256.Sum(a03);
        s[4] = Vector256.Sum(a10); s[5] = Vector256.Sum(a11); s[6] = Vector256.Sum(a12); s[7] = Vector256.Sum(a13);
        s[8] = Vector256.Sum(a20); s[9] = Vector256.Sum(a21); s[10] = Vector256.Sum(a22); s[11] = Vector256.Sum(a23);
        s[12] = Vector256.Sum(a30); s[13] = Vector256.Sum(a31); s[14] = Vector256.Sum(a32); s[15] = Vector256.Sum(a33);
        for (; j < n; j++)
        {
            T v0 = x0[j], v1 = x1[j], v2 = x2[j], v3 = x3[j];
            for (int r = 0; r < 4; r++)
            {
                T wj = TLoad.LoadScalar(r == 0 ? r0 : r == 1 ? r1 : r == 2 ? r2 : r3, j);
                s[4 * r] += wj * v0; s[4 * r + 1] += wj * v1; s[4 * r + 2] += wj * v2; s[4 * r + 3] += wj * v3;
            }
        }
        for (int r = 0; r < 4; r++)
            for (int b = 0; b < 4; b++) y[b * yStride + o + r] = Finish(w, o + r, s[4 * r + b]);
    }
}
