using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// The raw-memory selective scan behind <see cref="SelectiveScan.FusedCpu"/>, for float and double.
/// One channel (batch row, d_inner index) is a strict recurrence over time, so parallelism is over batch×channel
/// and SIMD runs over the state dimension: d_state is zero-padded to a multiple of the vector width
/// (padded lanes have A = 0, B = C = h₀ = 0, so their state stays exactly 0 and contributes nothing).
///
/// Layouts (all contiguous, row-major): u, delta, z, y, du, ddelta, dz: (b, d, l); A: (d, np);
/// Bt, Ct: (b, l, np) — B and C transposed so one time step's vector is contiguous; D, deltaBias: (d);
/// h₀, last state, dh₀: (b, d, np); checkpoints: (b, d, chunks, np), the state before step k·K.
/// </summary>
internal static unsafe class SelectiveScanKernel<T> where T : unmanaged, IBinaryFloatingPointIeee754<T>
{
    static readonly int Width = Vector256<T>.Count;

    /// <summary>d_state rounded up to a whole number of SIMD vectors.</summary>
    public static long PaddedStates(long states) => (states + Width - 1) / Width * Width;

    /// <summary>Runs the forward scan over every channel; writes the gated output, the last state and (when non-null) the checkpoints.</summary>
    public static void Forward(in ScanBuffers p)
    {
        ScanBuffers args = p;
        long channels = args.Batch * args.Channels;
        int tasks = TaskCount(channels);
        Parallel.For(0, tasks, task =>
        {
            (long first, long end) = Range(channels, tasks, task);
            using var scratch = new AlignedScratch<T>(args.PaddedStates, args.Length);
            T* h = scratch[0], dts = scratch[1];
            for (long c = first; c < end; c++) ForwardChannel(args, c, h, dts);
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // SIMD loops: fully optimised from the first call, not tier-0
    static void ForwardChannel(in ScanBuffers p, long channel, T* h, T* dts)
    {
        long bi = channel / p.Channels, di = channel % p.Channels, l = p.Length, np = p.PaddedStates;
        T* u = (T*)p.U + channel * l, delta = (T*)p.Delta + channel * l, y = (T*)p.Y + channel * l;
        T* z = p.Z == 0 ? null : (T*)p.Z + channel * l;
        T* a = (T*)p.A + di * np;
        T* bt = (T*)p.Bt + bi * l * np, ct = (T*)p.Ct + bi * l * np;
        T bias = p.DeltaBias == 0 ? T.Zero : ((T*)p.DeltaBias)[di];
        T skip = p.D == 0 ? T.Zero : ((T*)p.D)[di];
        T* checkpoints = p.Checkpoints == 0 ? null : (T*)p.Checkpoints + channel * p.Chunks * np;

        if (p.H0 == 0) new Span<T>(h, (int)np).Clear();
        else new Span<T>((T*)p.H0 + channel * np, (int)np).CopyTo(new Span<T>(h, (int)np));
        Steps(delta, bias, p.Softplus, dts, l);
        T rateScale = RateScale;                                                                  // a generic conversion: once, not per step

        for (long t = 0, nextCheckpoint = 0; t < l; t++)
        {
            if (t == nextCheckpoint)
            {
                if (checkpoints != null) new Span<T>(h, (int)np).CopyTo(new Span<T>(checkpoints + t / p.ChunkLength * np, (int)np));
                nextCheckpoint += p.ChunkLength;
            }
            T dt = dts[t], dtu = dt * u[t];
            T* bRow = bt + t * np, cRow = ct + t * np;
            Vector256<T> acc = Vector256<T>.Zero, dtv = Vector256.Create(dt * rateScale);   // Decay's exp2(Δ·log2e·A)
            for (long j = 0; j < np; j += Width)
            {
                Vector256<T> decay = Decay(dtv, Vector256.Load(a + j));
                Vector256<T> hj = decay * Vector256.Load(h + j) + Vector256.Load(bRow + j) * dtu;
                hj.Store(h + j);
                acc += Vector256.Load(cRow + j) * hj;
            }
            y[t] = Vector256.Sum(acc);
        }
        SkipAndGate(y, u, skip, z, l);
        new Span<T>(h, (int)np).CopyTo(new Span<T>((T*)p.Last + channel * np, (int)np));
    }

    /// <summary>
    /// The backward pass. Per channel it walks the chunks from last to first, recomputes the chunk's states from
    /// its checkpoint into a K×np scratch buffer, then runs the adjoint recurrence backwards through the chunk.
    /// dB and dC are sums over channels: each task accumulates into its own (l, np) slice of
    /// <see cref="ScanBuffers.DBtPartial"/>/<see cref="ScanBuffers.DCtPartial"/>, (b, tasksPerBatch, l, np), which the caller sums.
    /// </summary>
    public static void Backward(in ScanBuffers p, int tasksPerBatch)
    {
        ScanBuffers args = p;
        Parallel.For(0, (int)(args.Batch * tasksPerBatch), task =>
        {
            long bi = task / tasksPerBatch;
            (long first, long end) = Range(args.Channels, tasksPerBatch, task % tasksPerBatch);
            long np = args.PaddedStates, k = args.ChunkLength;
            using var buffers = new AlignedScratch<T>((k + 1) * np, k * np, args.Length, args.Length, k, k, np, np);
            var scratch = new Scratch(buffers[0], buffers[1], buffers[2], buffers[3], buffers[4], buffers[5], buffers[6], buffers[7]);
            T* dBt = (T*)args.DBtPartial + (long)task * args.Length * np;
            T* dCt = (T*)args.DCtPartial + (long)task * args.Length * np;
            for (long di = first; di < end; di++) BackwardChannel(args, bi * args.Channels + di, scratch, dBt, dCt);
        });
    }

    /// <summary>Per-task scratch: chunk states (K+1)×np and decays K×np, Δ and dΔ/d(raw delta) for the whole row, and per-chunk pre-gate outputs and ∂L/∂y.</summary>
    readonly struct Scratch(T* states, T* decays, T* steps, T* stepSlopes, T* preGate, T* gradIn, T* adjoint, T* dA)
    {
        public readonly T* States = states, Decays = decays, Steps = steps, StepSlopes = stepSlopes, PreGate = preGate, GradIn = gradIn, Adjoint = adjoint, DA = dA;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // SIMD loops: fully optimised from the first call, not tier-0
    static void BackwardChannel(in ScanBuffers p, long channel, in Scratch s, T* dBt, T* dCt)
    {
        long bi = channel / p.Channels, di = channel % p.Channels, l = p.Length, np = p.PaddedStates, k = p.ChunkLength;
        T* u = (T*)p.U + channel * l, delta = (T*)p.Delta + channel * l, gy = (T*)p.GradY + channel * l;
        T* du = (T*)p.GradU + channel * l, ddelta = (T*)p.GradDelta + channel * l;
        T* z = p.Z == 0 ? null : (T*)p.Z + channel * l;
        T* dz = p.Z == 0 ? null : (T*)p.GradZ + channel * l;
        T* a = (T*)p.A + di * np;
        T* bt = (T*)p.Bt + bi * l * np, ct = (T*)p.Ct + bi * l * np;
        T bias = p.DeltaBias == 0 ? T.Zero : ((T*)p.DeltaBias)[di];
        T skip = p.D == 0 ? T.Zero : ((T*)p.D)[di];
        T* checkpoints = (T*)p.Checkpoints + channel * p.Chunks * np;
        var dh = new Span<T>(s.Adjoint, (int)np);
        if (p.GradLast == 0) dh.Clear();
        else new Span<T>((T*)p.GradLast + channel * np, (int)np).CopyTo(dh);
        new Span<T>(s.DA, (int)np).Clear();
        T rateScale = RateScale;                                                                  // a generic conversion: once, not per step
        T dSkip = T.Zero;
        Steps(delta, bias, p.Softplus, s.Steps, l);
        if (p.Softplus) SigmoidRow(delta, bias, s.StepSlopes, l);

        for (long chunk = p.Chunks - 1; chunk >= 0; chunk--)
        {
            long t0 = chunk * k, t1 = Math.Min(l, t0 + k);
            // Recompute the chunk: States[i] is the state before step t0+i, States[i+1] after it.
            new Span<T>(checkpoints + chunk * np, (int)np).CopyTo(new Span<T>(s.States, (int)np));
            for (long t = t0; t < t1; t++)
            {
                long i = t - t0;
                T dt = s.Steps[t], dtu = dt * u[t];
                T* bRow = bt + t * np, cRow = ct + t * np, hPrev = s.States + i * np, hNext = hPrev + np, dec = s.Decays + i * np;
                Vector256<T> acc = Vector256<T>.Zero, dtv = Vector256.Create(dt * rateScale);   // as the forward
                for (long j = 0; j < np; j += Width)
                {
                    Vector256<T> decay = Decay(dtv, Vector256.Load(a + j));
                    decay.Store(dec + j);
                    Vector256<T> hj = decay * Vector256.Load(hPrev + j) + Vector256.Load(bRow + j) * dtu;
                    hj.Store(hNext + j);
                    acc += Vector256.Load(cRow + j) * hj;
                }
                s.PreGate[i] = Vector256.Sum(acc);
            }
            GateBackward(gy + t0, u + t0, skip, z == null ? null : z + t0, dz == null ? null : dz + t0, s.PreGate, s.GradIn, t1 - t0);
            // Adjoint recurrence backwards through the chunk.
            for (long t = t1 - 1; t >= t0; t--)
            {
                long i = t - t0;
                T g = s.GradIn[i], ut = u[t], dt = s.Steps[t], dtu = dt * ut;
                dSkip += g * ut;
                T* bRow = bt + t * np, cRow = ct + t * np, hPrev = s.States + i * np, hNext = hPrev + np, dec = s.Decays + i * np;
                T* dbRow = dBt + t * np, dcRow = dCt + t * np;
                Vector256<T> stepAcc = Vector256<T>.Zero, inputAcc = Vector256<T>.Zero;
                for (long j = 0; j < np; j += Width)
                {
                    Vector256<T> bj = Vector256.Load(bRow + j), decay = Vector256.Load(dec + j);
                    (Vector256.Load(dcRow + j) + Vector256.Load(hNext + j) * g).Store(dcRow + j);
                    Vector256<T> adj = Vector256.Load(s.Adjoint + j) + Vector256.Load(cRow + j) * g;  // ∂L/∂h_t
                    Vector256<T> dExponent = adj * Vector256.Load(hPrev + j) * decay;                     // ∂L/∂(Δ_t·A)
                    stepAcc += dExponent * Vector256.Load(a + j) + adj * bj * ut;
                    (Vector256.Load(s.DA + j) + dExponent * dt).Store(s.DA + j);
                    (Vector256.Load(dbRow + j) + adj * dtu).Store(dbRow + j);
                    inputAcc += adj * bj;
                    (adj * decay).Store(s.Adjoint + j);                                                   // ∂L/∂h_{t-1}
                }
                du[t] = g * skip + dt * Vector256.Sum(inputAcc);
                T dStep = Vector256.Sum(stepAcc);
                ddelta[t] = p.Softplus ? dStep * s.StepSlopes[t] : dStep;
            }
        }
        dh.CopyTo(new Span<T>((T*)p.GradH0 + channel * np, (int)np));
        new Span<T>(s.DA, (int)np).CopyTo(new Span<T>((T*)p.GradAPartial + channel * np, (int)np));
        ((T*)p.GradDPartial)[channel] = dSkip;
    }

    /// <summary>Δ for a whole row: delta + bias, through softplus when asked (vectorised over time).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // vector loops with inlined exp/log: never run at tier 0
    static void Steps(T* delta, T bias, bool softplus, T* dts, long l)
    {
        long t = 0;
        var vb = Vector256.Create(bias);
        for (; t + Width <= l; t += Width)
        {
            Vector256<T> x = Vector256.Load(delta + t) + vb;
            (softplus ? Softplus(x) : x).Store(dts + t);
        }
        for (; t < l; t++) dts[t] = softplus ? Softplus(delta[t] + bias) : delta[t] + bias;
    }

    /// <summary>sigmoid(delta + bias) for a whole row: the slope of softplus.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // vector loops with inlined exp/log: never run at tier 0
    static void SigmoidRow(T* delta, T bias, T* slopes, long l)
    {
        long t = 0;
        var vb = Vector256.Create(bias);
        for (; t + Width <= l; t += Width) Sigmoid(Vector256.Load(delta + t) + vb).Store(slopes + t);
        for (; t < l; t++) slopes[t] = Sigmoid(delta[t] + bias);
    }

    /// <summary>y ← (y + D·u) ⊙ silu(z) over a row (vectorised over time).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // vector loops with inlined exp/log: never run at tier 0
    static void SkipAndGate(T* y, T* u, T skip, T* z, long l)
    {
        long t = 0;
        var vs = Vector256.Create(skip);
        for (; t + Width <= l; t += Width)
        {
            Vector256<T> yt = Vector256.Load(y + t) + vs * Vector256.Load(u + t);
            if (z != null)
            {
                Vector256<T> zt = Vector256.Load(z + t);
                yt *= zt * Sigmoid(zt);
            }
            yt.Store(y + t);
        }
        for (; t < l; t++)
        {
            T yt = y[t] + skip * u[t];
            y[t] = z == null ? yt : yt * z[t] * Sigmoid(z[t]);
        }
    }

    /// <summary>
    /// Backward of the skip and gate over a chunk: from ∂L/∂out (gy) and the recomputed C·h (preGate, completed
    /// here with D·u), writes ∂L/∂z and the gradient reaching C·h + D·u (gradIn).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // vector loops with inlined exp/log: never run at tier 0
    static void GateBackward(T* gy, T* u, T skip, T* z, T* dz, T* preGate, T* gradIn, long count)
    {
        long i = 0;
        var vs = Vector256.Create(skip);
        for (; i + Width <= count; i += Width)
        {
            Vector256<T> g = Vector256.Load(gy + i);
            if (z != null)
            {
                Vector256<T> zt = Vector256.Load(z + i), sig = Sigmoid(zt);
                Vector256<T> yPre = Vector256.Load(preGate + i) + vs * Vector256.Load(u + i);
                (g * yPre * sig * (Vector256<T>.One + zt * (Vector256<T>.One - sig))).Store(dz + i);
                g *= zt * sig;
            }
            g.Store(gradIn + i);
        }
        for (; i < count; i++)
        {
            T g = gy[i];
            if (z != null)
            {
                T zt = z[i], sig = Sigmoid(zt), yPre = preGate[i] + skip * u[i];
                dz[i] = g * yPre * sig * (T.One + zt * (T.One - sig));
                g *= zt * sig;
            }
            gradIn[i] = g;
        }
    }

    /// <summary>Splits the work into a few tasks per core so uneven cores still finish together.</summary>
    public static int TaskCount(long items) => (int)Math.Max(1, Math.Min(items, 4L * Environment.ProcessorCount));

    static (long First, long End) Range(long items, int parts, int part) => (items * part / parts, items * (part + 1) / parts);

    /// <summary>log(1 + eˣ) as torch computes it (threshold 20), with an accurate log1p.</summary>
    internal static T Softplus(T x)
    {
        if (x > T.CreateTruncating(20)) return x;
        T e = T.Exp(x), onePlus = T.One + e;
        return onePlus == T.One ? e : T.Log(onePlus) * e / (onePlus - T.One);
    }

    /// <summary>The vector form of <see cref="Softplus(T)"/>: the same formula lane by lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<T> Softplus(Vector256<T> x)
    {
        Vector256<T> e = Exp(Vector256.Min(x, Vector256.Create(T.CreateTruncating(20))));
        Vector256<T> onePlus = Vector256<T>.One + e, below = onePlus - Vector256<T>.One;
        Vector256<T> log1p = Vector256.ConditionalSelect(Vector256.Equals(below, Vector256<T>.Zero), e, Log(onePlus) * e / below);
        return Vector256.ConditionalSelect(Vector256.GreaterThan(x, Vector256.Create(T.CreateTruncating(20))), x, log1p);
    }

    internal static T Sigmoid(T x) => T.One / (T.One + T.Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<T> Sigmoid(Vector256<T> x) => Vector256<T>.One / (Vector256<T>.One + Exp(-x));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<T> Log(Vector256<T> x)
    {
        if (typeof(T) == typeof(float)) return LogFloat(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.Log(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException($"selective scan kernel: {typeof(T).Name} is not supported");
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<T> Exp(Vector256<T> x)
    {
        if (typeof(T) == typeof(float)) return ExpFloat(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.Exp(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException($"selective scan kernel: {typeof(T).Name} is not supported");
    }

    /// <summary>
    /// What <see cref="Decay"/> expects a decay rate A to be multiplied by: log₂e for float (the float decay is a base-2
    /// exponential, which saves the range reduction's multiplies), 1 for double (exact <see cref="Vector256.Exp(Vector256{double})"/>).
    /// </summary>
    internal static T RateScale => typeof(T) == typeof(float) ? T.CreateTruncating(1.4426950408889634) : T.One;

    /// <summary>exp(Δ·A) from the product of Δ and A with <see cref="RateScale"/> folded into either factor (the mixer scales A once per block, the FusedCpu scan Δ once per step).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<T> Decay(Vector256<T> dt, Vector256<T> scaledRate)
    {
        if (typeof(T) == typeof(float)) return Exp2Float((dt * scaledRate).As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.Exp((dt * scaledRate).As<T, double>()).As<double, T>();
        throw new NotSupportedException($"selective scan kernel: {typeof(T).Name} is not supported");
    }

    /// <summary>
    /// 2ʸ for float lanes: y = k + f with k = round(y), |f| ≤ ½, 2ᶠ by a degree-5 minimax polynomial (relative error
    /// 7.5e-8 before rounding, so about 1 ulp in all), then k added to the exponent bits. Six multiply-adds against
    /// <see cref="ExpFloat"/>'s ten. With AVX-512VL the round and the exponent step are vrndscaleps and vscalefps, as in
    /// <see cref="Exp2Scaled"/>. Without it, y is clamped to [−125, 127]: below, the result is about 2⁻¹²⁵ ≈ 2.4e-38
    /// instead of a subnormal or 0 (an absolute error under 3e-38); the decays it serves are in (0, 1].
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Exp2Float(Vector256<float> y)
    {
        if (Avx512F.VL.IsSupported)                                                           // as Exp2Scaled, at 256 bits
        {
            y = Vector256.Max(y, Vector256.Create(-160f));
            Vector256<float> k = Avx512F.VL.RoundScale(y, 0);
            return Avx512F.VL.Scale(Exp2Polynomial(new Lanes256<float>(y - k)).V, k);
        }
        y = Vector256.Min(Vector256.Max(y, Vector256.Create(-125f)), Vector256.Create(127f));
        Vector256<float> shifted = y + Vector256.Create(RoundingShift);
        Vector256<float> f = y - (shifted - Vector256.Create(RoundingShift));                  // y − round(y)
        return (Exp2Polynomial(new Lanes256<float>(f)).V.AsInt32() + Vector256.ShiftLeft(shifted.AsInt32(), 23)).AsSingle();
    }

    /// <summary>
    /// e^r for r = x − k·ln2 (|r| ≤ ln2/2), at either vector width: the remainder by a two-part (Cody–Waite) ln2, so
    /// that k·ln2 is exact, then e^r by its degree-6 Taylor polynomial (truncation below 1.2e-7 relative).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV ExpOfRemainder<TV>(TV x, TV k) where TV : unmanaged, ISimdLanes<TV, float>
    {
        TV r = TV.Fma(k, TV.Broadcast(-0.693359375f), x);
        r = TV.Fma(k, TV.Broadcast(2.12194440e-4f), r);
        TV poly = TV.Broadcast(1f / 720);
        poly = TV.Fma(poly, r, TV.Broadcast(1f / 120));
        poly = TV.Fma(poly, r, TV.Broadcast(1f / 24));
        poly = TV.Fma(poly, r, TV.Broadcast(1f / 6));
        poly = TV.Fma(poly, r, TV.Broadcast(0.5f));
        poly = TV.Fma(poly, r, TV.One);
        return TV.Fma(poly, r, TV.One);
    }

    /// <summary>2ᶠ for |f| ≤ ½ by the degree-5 minimax polynomial below, at either vector width.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static TV Exp2Polynomial<TV>(TV f) where TV : unmanaged, ISimdLanes<TV, float>
    {
        TV poly = TV.Broadcast(Exp2C5);
        poly = TV.Fma(poly, f, TV.Broadcast(Exp2C4));
        poly = TV.Fma(poly, f, TV.Broadcast(Exp2C3));
        poly = TV.Fma(poly, f, TV.Broadcast(Exp2C2));
        poly = TV.Fma(poly, f, TV.Broadcast(Exp2C1));
        return TV.Fma(poly, f, TV.Broadcast(Exp2C0));
    }

    /// <summary>
    /// 2ʸ at 512 bits with AVX-512F: k = round(y) by vrndscaleps, f = y − k exactly, 2ᶠ by the polynomial of
    /// <see cref="Exp2Float"/>, and the exponent added by vscalefps (poly·2ᵏ), which also handles the range: a
    /// result below the normal floats comes out subnormal or 0 as exp does, one above them ∞. y is only kept above
    /// −160 (where 2ʸ is already 0) so that y = −∞ gives 0 rather than ∞ − ∞. Three instructions fewer per call than
    /// the rounding-shift form, in the scan's innermost loop.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Exp2Scaled(Vector512<float> y)
    {
        y = Vector512.Max(y, Vector512.Create(-160f));
        Vector512<float> k = Avx512F.RoundScale(y, 0);                                        // imm 0: to nearest, even on ties
        return Avx512F.Scale(Exp2Polynomial(new Lanes512<float>(y - k)).V, k);
    }

    /// <summary>
    /// e^(−|x|) for float lanes at 512 bits: k = round(−|x|·log₂e) by vrndscaleps, r = −|x| − k·ln2 by a two-part
    /// (Cody–Waite) ln2, e^r by the degree-6 Taylor polynomial of <see cref="ExpFloat"/>, times 2ᵏ by vscalefps (exact
    /// zeros and subnormals far out). −|x| is kept above −104, where the result is already 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> ExpMinusAbs512(Vector512<float> x)
    {
        Vector512<float> y = Vector512.Max(-Vector512.Abs(x), Vector512.Create(-104f));
        Vector512<float> k = Avx512F.RoundScale(y * Vector512.Create(1.44269504088896341f), 0);
        return Avx512F.Scale(ExpOfRemainder(new Lanes512<float>(y), new Lanes512<float>(k)).V, k);
    }

    /// <summary>
    /// log(1 + eˣ) for float lanes at 512 bits, in the overflow-free form max(x, 0) + log1p(t), t = e^(−|x|) in (0, 1]:
    /// log1p(t) = 2·atanh(s) with s = t/(2 + t) in (0, ⅓], by its odd series to s¹⁵ (truncation below 2e-9 relative),
    /// so no cancellation near t = 0. A few ulp, like <see cref="Softplus(Vector256{T})"/>, which needs an exp, a log
    /// and two divisions on each 256-bit half where this needs one exp and one division for all 16 lanes. Above 20
    /// the result is x exactly (e^−20 is under half an ulp of 20), as torch's threshold gives.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Softplus512(Vector512<float> x)
    {
        Vector512<float> t = ExpMinusAbs512(x);
        Vector512<float> twoS = (t + t) / (Vector512.Create(2f) + t);                          // 2s ≈ t: normal wherever t is
        Vector512<float> s2 = twoS * twoS * Vector512.Create(0.25f);
        Vector512<float> series = Vector512.Create(1f / 15);
        series = Vector512.FusedMultiplyAdd(series, s2, Vector512.Create(1f / 13));
        series = Vector512.FusedMultiplyAdd(series, s2, Vector512.Create(1f / 11));
        series = Vector512.FusedMultiplyAdd(series, s2, Vector512.Create(1f / 9));
        series = Vector512.FusedMultiplyAdd(series, s2, Vector512.Create(1f / 7));
        series = Vector512.FusedMultiplyAdd(series, s2, Vector512.Create(1f / 5));
        series = Vector512.FusedMultiplyAdd(series, s2, Vector512.Create(1f / 3));
        series = Vector512.FusedMultiplyAdd(series, s2, Vector512<float>.One);
        return Vector512.FusedMultiplyAdd(twoS, series, Vector512.Max(x, Vector512<float>.Zero));
    }

    /// <summary>
    /// 1/(1 + e⁻ˣ) for float lanes at 512 bits from t = e^(−|x|): 1/(1 + t) for x ≥ 0, t/(1 + t) below, so neither
    /// side overflows and far-negative x gives the true tiny value. One exp and one division for all 16 lanes.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Sigmoid512(Vector512<float> x)
    {
        Vector512<float> t = ExpMinusAbs512(x);
        Vector512<float> numerator = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero), Vector512<float>.One, t);
        return numerator / (Vector512<float>.One + t);
    }

    /// <summary>
    /// 1.5·2²³. For |y| &lt; 2²², y + this rounds y to the nearest integer k (the float's unit in the last place is 1
    /// there), so subtracting it again gives round(y), and the sum's low mantissa bits hold k + 2²²: shifted left by 23
    /// they are k·2²³ modulo 2³², the exponent-field increment of 2ᵏ. This replaces a round and a float-to-int
    /// conversion (which .NET makes saturating: four instructions at 512 bits) with one add.
    /// </summary>
    internal const float RoundingShift = 12582912f;

    // 2ᶠ ≈ Σ cᵢ·fⁱ on [−½, ½]: minimax for relative error by the Remez exchange (max 7.5e-8).
    internal const float Exp2C0 = 1.0000000716546822f, Exp2C1 = 0.693146967064733f, Exp2C2 = 0.2402211972384865f;
    internal const float Exp2C3 = 0.05550713273543075f, Exp2C4 = 0.009675541334209831f, Exp2C5 = 0.0013276471979286704f;

    /// <summary>
    /// ln x for positive, finite, normal float lanes in single precision (the softplus argument 1 + eˣ ≥ 1): x = m·2^k with
    /// m in [√½, √2), ln m = 2·atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.172, by its odd series to s⁹ (truncation below
    /// 4e-9 relative), plus k·ln2. A few ulp, like <see cref="ExpFloat"/>; replaces .NET's Vector256.Log, which is slow.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> LogFloat(Vector256<float> x)
    {
        Vector256<int> bits = x.AsInt32();
        // Exponent relative to a mantissa in [√½, √2): shift by the bits of √½ (0x3F3504F3) before extracting.
        Vector256<int> shifted = bits - Vector256.Create(0x3F3504F3);
        Vector256<int> k = Vector256.ShiftRightArithmetic(shifted, 23);
        Vector256<float> m = (bits - Vector256.ShiftLeft(k, 23)).AsSingle();
        Vector256<float> s = (m - Vector256<float>.One) / (m + Vector256<float>.One), s2 = s * s;
        Vector256<float> series = Vector256.Create(1f / 9);
        series = Vector256.FusedMultiplyAdd(series, s2, Vector256.Create(1f / 7));
        series = Vector256.FusedMultiplyAdd(series, s2, Vector256.Create(1f / 5));
        series = Vector256.FusedMultiplyAdd(series, s2, Vector256.Create(1f / 3));
        series = Vector256.FusedMultiplyAdd(series, s2, Vector256<float>.One);
        Vector256<float> kf = Vector256.ConvertToSingle(k);
        return Vector256.FusedMultiplyAdd(kf, Vector256.Create(0.693147180559945309f), Vector256.Create(2f) * s * series);
    }

    /// <summary>
    /// eˣ for float lanes in single precision, about 3× faster than <see cref="Vector256.Exp(Vector256{float})"/>
    /// (which computes through double): x = k·ln2 + r with |r| ≤ ln2/2 (Cody–Waite split of ln2), e^r by its degree-6
    /// Taylor polynomial (truncation &lt; 1.2e-7 relative), times 2^k added to the exponent bits. Relative error a few
    /// ulp. Inputs are clamped to [−87, 88]: below, the result is e^−87 ≈ 1.6e-38 instead of a subnormal or 0
    /// (an absolute error under 1.7e-38); above, 1.65e38 instead of ∞.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> ExpFloat(Vector256<float> x)
    {
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(-87f)), Vector256.Create(88f));
        Vector256<float> shifted = Vector256.FusedMultiplyAdd(x, Vector256.Create(1.44269504088896341f), Vector256.Create(RoundingShift));
        Vector256<float> k = shifted - Vector256.Create(RoundingShift);                        // round(x·log₂e), see RoundingShift
        Vector256<float> poly = ExpOfRemainder(new Lanes256<float>(x), new Lanes256<float>(k)).V;
        // 2^k as a float, (k + 127)·2²³ in its bits (a product, not an exponent add: near −87 the result is subnormal).
        return poly * (Vector256.ShiftLeft(shifted.AsInt32(), 23) + Vector256.Create(127 << 23)).AsSingle();
    }
}
