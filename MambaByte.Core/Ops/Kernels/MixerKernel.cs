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
    const long SerialWork = 1 << 15;

    static long Blocks(long channels) => (channels + Width - 1) / Width;

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
        Span<Vector256<T>> w = stackalloc Vector256<T>[(int)k];
        Vector256<T> bias = ConvParameters(p, c0, lanes, w);
        Span<Vector256<T>> window = stackalloc Vector256<T>[(int)k];   // xpad[t .. t+k-1] = x[t-k+1 .. t]
        StartWindow(p, bi, c0, lanes, window);
        for (long t = 0; t < l; t++)
        {
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
        Span<Vector256<T>> w = stackalloc Vector256<T>[(int)k];
        Vector256<T> bias = ConvParameters(p, c0, lanes, w);
        Span<Vector256<T>> dw = stackalloc Vector256<T>[(int)k];
        dw.Clear();
        Span<Vector256<T>> window = stackalloc Vector256<T>[(int)k];    // x[t-k+1 .. t]
        Span<Vector256<T>> dWindow = stackalloc Vector256<T>[(int)k];   // ∂L/∂pre[t-k+1 .. t]
        dWindow.Clear();
        StartWindow(p, bi, c0, lanes, window);
        Vector256<T> db = Vector256<T>.Zero;
        for (long t = 0; t < l + k - 1; t++)
        {
            Vector256<T> dPre = Vector256<T>.Zero;
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
                Store(Vector256<T>.Zero, gx + s * p.XzStride + e, lanes);
            }
            else if (p.GradLeft != 0) Store(gradInput, (T*)p.GradLeft + (bi * (k - 1) + k - 1 + s) * e + c0, lanes);
            Shift(dWindow);
        }
        for (int j = 0; j < k; j++) Scatter(dw[j], (T*)p.GradConvWeightPartial + (bi * e + c0) * k + j, k, lanes);
        Store(db, (T*)p.GradConvBiasPartial + bi * e + c0, lanes);
    }

    // ---------------------------------------------------------------- scan

    /// <summary>
    /// h_t = exp(Δ_t·A) ⊙ h_{t−1} + Δ_t·B_t·u_t, y_t = (C_t·h_t + D·u_t)·silu(z_t), Δ_t = softplus(delta_t + bias);
    /// writes y, the last state and (when non-null) the state before every <see cref="MixerBuffers.ChunkLength"/>-th step.
    /// </summary>
    public static void ScanForward(in MixerBuffers p)
    {
        MixerBuffers args = p;
        long blocks = Blocks(args.Channels), items = args.Batch * blocks;
        For(items, args.Length * args.Channels * args.States, item =>
        {
            Vector256<T>* scratch = stackalloc Vector256<T>[2 * (int)args.States];
            ScanForwardBlock(args, item / blocks, item % blocks * Width, scratch, scratch + args.States);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // SIMD loops: fully optimised from the first call, not tier-0
    static void ScanForwardBlock(in MixerBuffers p, long bi, long c0, Vector256<T>* h, Vector256<T>* a)
    {
        int lanes = (int)Math.Min(Width, p.Channels - c0);
        long e = p.Channels, n = p.States, l = p.Length;
        for (int j = 0; j < n; j++) a[j] = DecayRate(p, c0, j, lanes);
        Vector256<T> bias = p.DeltaBias == 0 ? Vector256<T>.Zero : Load((T*)p.DeltaBias + c0, lanes);
        Vector256<T> skip = p.D == 0 ? Vector256<T>.Zero : Load((T*)p.D + c0, lanes);
        for (int j = 0; j < n; j++) h[j] = p.H0 == 0 ? Vector256<T>.Zero : Load((T*)p.H0 + (bi * n + j) * e + c0, lanes);

        for (long t = 0; t < l; t++)
        {
            if (p.Checkpoints != 0 && t % p.ChunkLength == 0)
            {
                T* checkpoint = (T*)p.Checkpoints + (bi * p.Chunks + t / p.ChunkLength) * n * e + c0;
                for (int s = 0; s < n; s++) Store(h[s], checkpoint + s * e, lanes);
            }
            long row = bi * l + t;
            Vector256<T> u = Load((T*)p.U + row * e + c0, lanes);
            Vector256<T> dt = Step(Load((T*)p.Delta + row * e + c0, lanes) + bias, p.Softplus), dtu = dt * u;
            T* bRow = (T*)p.Bc + row * p.BcStride + p.BOffset, cRow = (T*)p.Bc + row * p.BcStride + p.COffset;
            Vector256<T> y = Vector256<T>.Zero, yOdd = Vector256<T>.Zero;   // two sums: half the dependency chain
            int j = 0;
            for (; j + 1 < n; j += 2)
            {
                Vector256<T> h0 = Fma(SelectiveScanKernel<T>.Exp(dt * a[j]), h[j], Vector256.Create(bRow[j]) * dtu);
                Vector256<T> h1 = Fma(SelectiveScanKernel<T>.Exp(dt * a[j + 1]), h[j + 1], Vector256.Create(bRow[j + 1]) * dtu);
                h[j] = h0;
                h[j + 1] = h1;
                y = Fma(Vector256.Create(cRow[j]), h0, y);
                yOdd = Fma(Vector256.Create(cRow[j + 1]), h1, yOdd);
            }
            for (; j < n; j++)
            {
                Vector256<T> hj = Fma(SelectiveScanKernel<T>.Exp(dt * a[j]), h[j], Vector256.Create(bRow[j]) * dtu);
                h[j] = hj;
                y = Fma(Vector256.Create(cRow[j]), hj, y);
            }
            y = Fma(skip, u, y + yOdd);
            if (p.Xz != 0)
            {
                Vector256<T> z = Load((T*)p.Xz + row * p.XzStride + p.Channels + c0, lanes);
                y *= z * SelectiveScanKernel<T>.Sigmoid(z);
            }
            Store(y, (T*)p.Y + row * e + c0, lanes);
        }
        for (int j = 0; j < n; j++) Store(h[j], (T*)p.Last + (bi * n + j) * e + c0, lanes);
    }

    /// <summary>
    /// Backward of <see cref="ScanForward"/>. Per block it walks the chunks from last to first, recomputes the chunk's
    /// states from its checkpoint, then runs the adjoint recurrence backwards. ∂L/∂B and ∂L/∂C are sums over channels:
    /// each task adds its blocks' lane sums into its own (l, n) slice of the partial buffers, which the caller sums.
    /// </summary>
    public static void ScanBackward(in MixerBuffers p, int tasksPerBatch)
    {
        MixerBuffers args = p;
        long blocks = Blocks(args.Channels);
        For(args.Batch * tasksPerBatch, 3 * args.Length * args.Channels * args.States, task =>
        {
            long bi = task / tasksPerBatch, part = task % tasksPerBatch;
            long first = blocks * part / tasksPerBatch, end = blocks * (part + 1) / tasksPerBatch;
            int n = (int)args.States, k = (int)args.ChunkLength;
            var scratch = new Vector256<T>[(k + 1) * n + k * n + 3 * k + 5 * n];
            fixed (Vector256<T>* s = scratch)
            {
                T* dBc = (T*)args.GradBcPartial + task * args.Length * args.BcStride;
                for (long block = first; block < end; block++) ScanBackwardBlock(args, bi, block * Width, s, dBc);
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // SIMD loops: fully optimised from the first call, not tier-0
    static void ScanBackwardBlock(in MixerBuffers p, long bi, long c0, Vector256<T>* scratch, T* dBc)
    {
        int lanes = (int)Math.Min(Width, p.Channels - c0);
        long e = p.Channels, l = p.Length;
        int n = (int)p.States, k = (int)p.ChunkLength;
        // Scratch: states (k+1)·n (States[i] before step t0+i), decays k·n, Δ, softplus slope and C·h per step, adjoint n, ∂A n, A n.
        Vector256<T>* states = scratch, decays = states + (k + 1) * n, steps = decays + k * n, slopes = steps + k, readouts = slopes + k;
        Vector256<T>* adjoint = readouts + k, dA = adjoint + n, a = dA + n, dBTerms = a + n, dCTerms = dBTerms + n;
        for (int j = 0; j < n; j++) a[j] = DecayRate(p, c0, j, lanes);
        Vector256<T> bias = p.DeltaBias == 0 ? Vector256<T>.Zero : Load((T*)p.DeltaBias + c0, lanes);
        Vector256<T> skip = p.D == 0 ? Vector256<T>.Zero : Load((T*)p.D + c0, lanes);
        for (int j = 0; j < n; j++)
        {
            adjoint[j] = p.GradLast == 0 ? Vector256<T>.Zero : Load((T*)p.GradLast + (bi * n + j) * e + c0, lanes);
            dA[j] = Vector256<T>.Zero;
        }
        Vector256<T> dSkip = Vector256<T>.Zero;

        for (long chunk = p.Chunks - 1; chunk >= 0; chunk--)
        {
            long t0 = chunk * k, t1 = Math.Min(l, t0 + k);
            T* checkpoint = (T*)p.Checkpoints + (bi * p.Chunks + chunk) * n * e + c0;
            for (int j = 0; j < n; j++) states[j] = Load(checkpoint + j * e, lanes);
            for (long t = t0; t < t1; t++)
            {
                long i = t - t0, row = bi * l + t;
                Vector256<T> raw = Load((T*)p.Delta + row * e + c0, lanes) + bias;
                Vector256<T> dt = Step(raw, p.Softplus), dtu = dt * Load((T*)p.U + row * e + c0, lanes);
                steps[i] = dt;
                slopes[i] = p.Softplus ? SelectiveScanKernel<T>.Sigmoid(raw) : Vector256<T>.One;
                T* bc = (T*)p.Bc + row * p.BcStride;
                Vector256<T>* hPrev = states + i * n, hNext = hPrev + n, dec = decays + i * n;
                Vector256<T> y = Vector256<T>.Zero;
                for (int j = 0; j < n; j++)
                {
                    Vector256<T> decay = SelectiveScanKernel<T>.Exp(dt * a[j]);
                    dec[j] = decay;
                    Vector256<T> hj = Fma(decay, hPrev[j], Vector256.Create(bc[p.BOffset + j]) * dtu);
                    hNext[j] = hj;
                    y = Fma(Vector256.Create(bc[p.COffset + j]), hj, y);
                }
                readouts[i] = y;
            }
            for (long t = t1 - 1; t >= t0; t--)
            {
                long i = t - t0, row = bi * l + t;
                Vector256<T> u = Load((T*)p.U + row * e + c0, lanes), dt = steps[i], dtu = dt * u;
                Vector256<T> g = Load((T*)p.GradY + row * e + c0, lanes);
                if (p.Xz != 0)
                {
                    Vector256<T> z = Load((T*)p.Xz + row * p.XzStride + p.Channels + c0, lanes), sig = SelectiveScanKernel<T>.Sigmoid(z);
                    Vector256<T> yPre = readouts[i] + skip * u;
                    Store(g * yPre * sig * (Vector256<T>.One + z * (Vector256<T>.One - sig)), (T*)p.GradZ + row * p.XzStride + p.Channels + c0, lanes);
                    g *= z * sig;
                }
                dSkip += g * u;
                T* bc = (T*)p.Bc + row * p.BcStride;
                T* dBRow = dBc + t * p.BcStride + p.BOffset, dCRow = dBc + t * p.BcStride + p.COffset;
                Vector256<T>* hPrev = states + i * n, hNext = hPrev + n, dec = decays + i * n;
                Vector256<T> stepAcc = Vector256<T>.Zero, inputAcc = Vector256<T>.Zero;
                for (int j = 0; j < n; j++)
                {
                    Vector256<T> bj = Vector256.Create(bc[p.BOffset + j]);
                    dCTerms[j] = hNext[j] * g;
                    Vector256<T> adj = Fma(Vector256.Create(bc[p.COffset + j]), g, adjoint[j]);      // ∂L/∂h_t
                    Vector256<T> dExponent = adj * hPrev[j] * dec[j];                                 // ∂L/∂(Δ_t·A)
                    stepAcc = Fma(dExponent, a[j], Fma(adj * bj, u, stepAcc));
                    dA[j] = Fma(dExponent, dt, dA[j]);
                    dBTerms[j] = adj * dtu;
                    inputAcc = Fma(adj, bj, inputAcc);
                    adjoint[j] = adj * dec[j];                                                         // ∂L/∂h_{t−1}
                }
                AddLaneSums(dBTerms, dBRow, n);                                                       // ∂L/∂B_t, ∂L/∂C_t: sums over the block's channels
                AddLaneSums(dCTerms, dCRow, n);
                Store(g * skip + dt * inputAcc, (T*)p.GradU + row * e + c0, lanes);
                Store(stepAcc * slopes[i], (T*)p.GradDelta + row * e + c0, lanes);
            }
        }
        for (int j = 0; j < n; j++)
        {
            Store(adjoint[j], (T*)p.GradH0 + (bi * n + j) * e + c0, lanes);
            Scatter(p.ALog ? dA[j] * a[j] : dA[j], (T*)p.GradAPartial + (bi * e + c0) * n + j, n, lanes);   // ∂A/∂A_log = A
        }
        Store(dSkip, (T*)p.GradDPartial + bi * e + c0, lanes);
    }

    /// <summary>How many tasks per batch row the scan backward splits the channel blocks into (each gets its own dB/dC partial).</summary>
    public static int BackwardTasksPerBatch(long batch, long channels, long work) =>
        work < SerialWork || FusedMixer.Threads == 1 ? 1 : (int)Math.Clamp((4L * FusedMixer.Threads + batch - 1) / batch, 1, Math.Max(1, Blocks(channels)));

    // ---------------------------------------------------------------- helpers

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<T> Step(Vector256<T> raw, bool softplus) => softplus ? SelectiveScanKernel<T>.Softplus(raw) : raw;

    /// <summary>Runs <paramref name="body"/> for 0..items−1: inline when the work is small, else on the thread pool in a few chunks per core.</summary>
    static void For(long items, long work, Action<long> body)
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

    /// <summary>A[c0.., j] for a block: A itself, or −exp(A_log) when the buffer holds A_log (missing lanes: 0).</summary>
    static Vector256<T> DecayRate(in MixerBuffers p, long c0, int j, int lanes)
    {
        Vector256<T> column = Gather((T*)p.A + c0 * p.States + j, p.States, lanes);
        if (!p.ALog) return column;
        Span<T> rates = stackalloc T[Width];
        rates.Clear();
        for (int i = 0; i < lanes; i++) rates[i] = -T.Exp(column.GetElement(i));
        return Vector256.Create<T>(rates);
    }

    /// <summary>Lanes from <paramref name="source"/>[i·stride] (a column of a row-major (channels, stride) matrix); missing lanes are zero.</summary>
    static Vector256<T> Gather(T* source, long stride, int lanes)
    {
        Span<T> buffer = stackalloc T[Width];
        buffer.Clear();
        for (int i = 0; i < lanes; i++) buffer[i] = source[i * stride];
        return Vector256.Create<T>(buffer);
    }

    static void Scatter(Vector256<T> value, T* target, long stride, int lanes)
    {
        for (int i = 0; i < lanes; i++) target[i * stride] = value.GetElement(i);
    }

    /// <summary>target[j] += Σ_lanes terms[j] for j &lt; n; eight at a time through a transposing reduction where AVX allows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void AddLaneSums(Vector256<T>* terms, T* target, int n)
    {
        int j = 0;
        if (typeof(T) == typeof(float) && Avx.IsSupported)
        {
            for (; j + 8 <= n; j += 8)
            {
                Vector256<float>* v = (Vector256<float>*)(terms + j);
                Vector256<float> pairs01 = Avx.HorizontalAdd(v[0], v[1]), pairs23 = Avx.HorizontalAdd(v[2], v[3]);
                Vector256<float> pairs45 = Avx.HorizontalAdd(v[4], v[5]), pairs67 = Avx.HorizontalAdd(v[6], v[7]);
                Vector256<float> quads0123 = Avx.HorizontalAdd(pairs01, pairs23), quads4567 = Avx.HorizontalAdd(pairs45, pairs67);
                // Each 128-bit half of quads holds four partial sums; add the halves: [Σv0 .. Σv7].
                Vector256<float> sums = Avx.Permute2x128(quads0123, quads4567, 0x20) + Avx.Permute2x128(quads0123, quads4567, 0x31);
                float* row = (float*)(target + j);
                (Vector256.Load(row) + sums).Store(row);
            }
        }
        for (; j < n; j++) target[j] += Vector256.Sum(terms[j]);
    }

    /// <summary>a·b + c in one rounding (FMA): the JIT does not contract a separate multiply and add.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<T> Fma(Vector256<T> a, Vector256<T> b, Vector256<T> c)
    {
        if (typeof(T) == typeof(float)) return Vector256.FusedMultiplyAdd(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.FusedMultiplyAdd(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
        return a * b + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<T> Load(T* source, int lanes) => lanes == Width ? Vector256.Load(source) : LoadPartial(source, lanes);

    static Vector256<T> LoadPartial(T* source, int lanes)
    {
        Span<T> buffer = stackalloc T[Width];
        buffer.Clear();
        new Span<T>(source, lanes).CopyTo(buffer);
        return Vector256.Create<T>(buffer);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Store(Vector256<T> value, T* target, int lanes)
    {
        if (lanes == Width) value.Store(target);
        else StorePartial(value, target, lanes);
    }

    static void StorePartial(Vector256<T> value, T* target, int lanes)
    {
        Span<T> buffer = stackalloc T[Width];
        value.CopyTo(buffer);
        buffer[..lanes].CopyTo(new Span<T>(target, lanes));
    }
}
