using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// The elementwise parts of one Mamba recurrent step (the reference <c>Mamba.step</c> of <c>mamba_simple.py</c>,
/// here <see cref="Modules.MambaMixer.Step"/>) on raw memory, one sequence at a time, for float and double:
/// RMSNorm, the conv-window roll with its dot product and SiLU, and the selective-state update with readout and
/// gate. The matrix products in between are <see cref="GemvKernel{T}"/>'s. Nothing here allocates.
/// </summary>
internal static unsafe class StepKernel<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    static readonly int Width = Vector256<T>.Count;

    /// <summary>y = x / sqrt(mean(x²) + eps) · weight, as <see cref="Modules.RMSNorm"/> (in T: float32 for float, float64 for double).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RmsNorm(T* x, T* weight, T eps, T* y, int d)
    {
        int j = 0;
        Vector256<T> acc = Vector256<T>.Zero;
        for (; j + Width <= d; j += Width)
        {
            Vector256<T> v = Vector256.Load(x + j);
            acc = VectorOps.Fma(v, v, acc);
        }
        T sum = Vector256.Sum(acc);
        for (; j < d; j++) sum += x[j] * x[j];
        T rstd = T.One / T.Sqrt(sum / T.CreateTruncating(d) + eps);
        var vr = Vector256.Create(rstd);
        for (j = 0; j + Width <= d; j += Width) (Vector256.Load(x + j) * vr * Vector256.Load(weight + j)).Store(y + j);
        for (; j < d; j++) y[j] = x[j] * rstd * weight[j];
    }

    /// <summary>y += x over d elements (the residual stream).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Add(T* y, T* x, int d)
    {
        int j = 0;
        for (; j + Width <= d; j += Width) (Vector256.Load(y + j) + Vector256.Load(x + j)).Store(y + j);
        for (; j < d; j++) y[j] += x[j];
    }

    /// <summary>
    /// Per channel c: roll the conv window (d_inner, k) left by one and append x[c], then
    /// xc[c] = silu(Σ_i window[c, i]·w[c, i] + bias[c]) (the SiLU in a second, vectorised pass over the channels).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ConvSilu(T* window, T* x, T* w, T* bias, T* xc, int channels, int k)
    {
        for (int c = 0; c < channels; c++)
        {
            T* s = window + (long)c * k, wc = w + (long)c * k;
            T sum = T.Zero;
            for (int i = 0; i < k - 1; i++)
            {
                T v = s[i + 1];
                s[i] = v;
                sum += v * wc[i];
            }
            s[k - 1] = x[c];
            sum += x[c] * wc[k - 1];
            if (bias != null) sum += bias[c];
            xc[c] = sum;
        }
        int j = 0;
        for (; j + Width <= channels; j += Width)
        {
            Vector256<T> v = Vector256.Load(xc + j);
            (v * Sigmoid(v)).Store(xc + j);
        }
        for (; j < channels; j++) xc[j] *= Sigmoid(xc[j]);
    }

    /// <summary>A = −exp(A_log) for (d_inner, d_state), once per step for the whole batch.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void NegExp(T* aLog, T* a, long count)
    {
        long j = 0;
        for (; j + Width <= count; j += Width) (-Exp(Vector256.Load(aLog + j))).Store(a + j);
        for (; j < count; j++) a[j] = -T.Exp(aLog[j]);
    }

    /// <summary>
    /// The selective-state step for channels [first, end) of one sequence. xDbl = (Δ low-rank r, B n, C n) from
    /// x_proj; per channel: Δ = softplus(dt_w[c]·Δlow + dt_b[c]); h = exp(Δ·A[c])·h + (Δ·xc[c])·B;
    /// y[c] = (C·h + D[c]·xc[c])·silu(z[c]). h is (d_inner, n), read from H and written to HOut (in place when equal). Three passes: Δ for every channel
    /// (the softplus vectorised over channels), the state update (vectorised over n), the skip and gate
    /// (vectorised over channels). A channel's arithmetic depends only on its index, never on the range.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Scan(in ScanStep p, int first, int end)
    {
        int n = p.States, r = p.Rank;
        T* dtLow = p.XDbl, bv = p.XDbl + r, cv = p.XDbl + r + n;
        for (int c = first; c < end; c++)
        {
            T* wr = p.DtWeight + (long)c * r;
            int i = 0;
            T raw = T.Zero;
            if (r >= Width)
            {
                Vector256<T> acc = Vector256<T>.Zero;
                for (; i + Width <= r; i += Width) acc = VectorOps.Fma(Vector256.Load(wr + i), Vector256.Load(dtLow + i), acc);
                raw = Vector256.Sum(acc);
            }
            for (; i < r; i++) raw += wr[i] * dtLow[i];
            p.Dt[c] = raw + p.DtBias[c];
        }
        // Vector lanes start at channel multiples of Width, so a channel takes the same lane path whatever the range.
        int head = Math.Min(end, (first + Width - 1) / Width * Width), tail = Math.Max(head, end / Width * Width);
        for (int c = first; c < head; c++) p.Dt[c] = Softplus(p.Dt[c]);
        for (int c = head; c < tail; c += Width) Softplus(Vector256.Load(p.Dt + c)).Store(p.Dt + c);
        for (int c = tail; c < end; c++) p.Dt[c] = Softplus(p.Dt[c]);

        for (int c = first; c < end; c++)
        {
            T dt = p.Dt[c], dtu = dt * p.Xc[c];
            T* h = p.H + (long)c * n, hOut = p.HOut + (long)c * n, a = p.A + (long)c * n;
            var vdt = Vector256.Create(dt);
            var vdtu = Vector256.Create(dtu);
            Vector256<T> yAcc = Vector256<T>.Zero;
            int j = 0;
            for (; j + Width <= n; j += Width)
            {
                Vector256<T> hj = Exp(Vector256.Load(a + j) * vdt) * Vector256.Load(h + j) + vdtu * Vector256.Load(bv + j);
                hj.Store(hOut + j);
                yAcc = VectorOps.Fma(hj, Vector256.Load(cv + j), yAcc);
            }
            T y = Vector256.Sum(yAcc);
            for (; j < n; j++)
            {
                T hj = T.Exp(a[j] * dt) * h[j] + dtu * bv[j];
                hOut[j] = hj;
                y += hj * cv[j];
            }
            p.Y[c] = y;
        }

        for (int c = first; c < head; c++) p.Y[c] = Gate(p.Y[c], p.D[c], p.Xc[c], p.Z[c]);
        for (int c = head; c < tail; c += Width)
        {
            Vector256<T> z = Vector256.Load(p.Z + c);
            Vector256<T> y = VectorOps.Fma(Vector256.Load(p.D + c), Vector256.Load(p.Xc + c), Vector256.Load(p.Y + c));
            (y * (z * Sigmoid(z))).Store(p.Y + c);
        }
        for (int c = tail; c < end; c++) p.Y[c] = Gate(p.Y[c], p.D[c], p.Xc[c], p.Z[c]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static T Gate(T y, T d, T u, T z) => (y + d * u) * (z * Sigmoid(z));

    /// <summary>The vector form of <see cref="Softplus(T)"/>: the same formula lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<T> Softplus(Vector256<T> x)
    {
        Vector256<T> threshold = Vector256.Create(T.CreateTruncating(20));
        Vector256<T> e = Exp(Vector256.Min(x, threshold));
        Vector256<T> onePlus = Vector256<T>.One + e, below = onePlus - Vector256<T>.One;
        Vector256<T> log1p = Vector256.ConditionalSelect(Vector256.Equals(below, Vector256<T>.Zero), e, Log(onePlus) * e / below);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(x, threshold), x, log1p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<T> Sigmoid(Vector256<T> x) => Vector256<T>.One / (Vector256<T>.One + Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<T> Log(Vector256<T> x)
    {
        if (typeof(T) == typeof(float)) return SelectiveScanKernel<float>.LogFloat(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.Log(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException($"step kernel: {typeof(T).Name} is not supported");
    }

    /// <summary>log(1 + eˣ) as torch computes it (threshold 20), log1p made accurate by the (1+e)−1 correction.</summary>
    public static T Softplus(T x)
    {
        if (x > T.CreateTruncating(20)) return x;
        T e = T.Exp(x), onePlus = T.One + e;
        return onePlus == T.One ? e : T.Log(onePlus) * e / (onePlus - T.One);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static T Sigmoid(T x) => T.One / (T.One + T.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<T> Exp(Vector256<T> x)
    {
        if (typeof(T) == typeof(float)) return SelectiveScanKernel<float>.ExpFloat(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.Exp(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException($"step kernel: {typeof(T).Name} is not supported");
    }

    /// <summary>
    /// Addresses for <see cref="Scan"/>: one sequence's vectors and the layer's weights; h is read from
    /// <c>H</c> and the new h written to <c>HOut</c> (the same address to update in place).
    /// </summary>
    public readonly struct ScanStep(T* xDbl, T* xc, T* z, T* h, T* hOut, T* a, T* dtWeight, T* dtBias, T* d, T* y, T* dt, int rank, int states)
    {
        public readonly T* XDbl = xDbl, Xc = xc, Z = z, H = h, HOut = hOut, A = a, DtWeight = dtWeight, DtBias = dtBias, D = d, Y = y, Dt = dt;
        public readonly int Rank = rank, States = states;
    }
}
