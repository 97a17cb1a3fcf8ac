using System.Numerics;
using System.Runtime.CompilerServices;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// The mixer's selective scan (see <see cref="MixerKernel{T}"/> for the layout and the parallel split), written once
/// against <see cref="ISimdLanes{TSelf, T}"/> so that it runs at 256 or 512 bits: a block is <see cref="Width"/>
/// neighbouring channels. The forward walks the sequence in chunks of three passes; the backward walks the
/// checkpointed chunks from last to first, recomputing each chunk's states.
/// </summary>
internal static unsafe class MixerScanKernel<T, TV>
    where T : unmanaged, IBinaryFloatingPointIeee754<T>
    where TV : unmanaged, ISimdLanes<TV, T>
{
    static int Width => TV.Count;

    // The backward's per-state record: vectors at these offsets.
    const int Adjoint = 0, RateGrad = 1, Rate = 2, BTerm = 3, CTerm = 4, PerState = 5;

    /// <summary>
    /// The backward's per-task scratch, kept per thread: at 512 bits and d_state 16 it is about 160 KB, which .NET would
    /// otherwise allocate (and zero) on the large-object heap for every task of every call.
    /// </summary>
    [ThreadStatic] static TV[]? backwardScratch;

    static long Blocks(long channels) => (channels + Width - 1) / Width;

    /// <summary>
    /// h_t = exp(Δ_t·A) ⊙ h_{t−1} + Δ_t·B_t·u_t, y_t = (C_t·h_t + D·u_t)·silu(z_t), Δ_t = softplus(delta_t + bias);
    /// writes y, the last state and (when non-null) the state before every <see cref="MixerBuffers.ChunkLength"/>-th step.
    /// </summary>
    public static void ScanForward(in MixerBuffers p)
    {
        MixerBuffers args = p;
        long blocks = Blocks(args.Channels), items = args.Batch * blocks;
        MixerKernel<T>.For(items, args.Length * args.Channels * args.States, item =>
        {
            // Scratch: state n, A·RateScale n, then Δ, Δ·u and C·h for each step of a chunk.
            int chunk = (int)Math.Min(args.Length, ForwardChunk);
            TV* scratch = stackalloc TV[2 * (int)args.States + 3 * chunk + 1];
            ScanForwardBlock(args, item / blocks, item % blocks * Width, VectorOps.Aligned(scratch), chunk);
        });
    }

    /// <summary>
    /// Steps per forward chunk. Each chunk runs in three passes: Δ = softplus(·) and Δ·u for every step, then the
    /// recurrence, then the D skip and the gate. The recurrence's steps then depend only on the state: the long
    /// softplus latency (exp, log, division) no longer sits at the head of every step's chain.
    /// </summary>
    const int ForwardChunk = 64;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // SIMD loops: fully optimised from the first call, not tier-0
    static void ScanForwardBlock(in MixerBuffers p, long bi, long c0, TV* scratch, int chunk)
    {
        int lanes = (int)Math.Min(Width, p.Channels - c0);
        long e = p.Channels, n = p.States, l = p.Length;
        TV* h = scratch, a = h + n, steps = a + n, inputs = steps + chunk, readouts = inputs + chunk;
        TV scale = TV.Broadcast(SelectiveScanKernel<T>.RateScale);
        for (int j = 0; j < n; j++) a[j] = DecayRate(p, c0, j, lanes) * scale;                  // A·RateScale, as Decay expects
        TV bias = p.DeltaBias == 0 ? TV.Zero : TV.Load((T*)p.DeltaBias + c0, lanes);
        TV skip = p.D == 0 ? TV.Zero : TV.Load((T*)p.D + c0, lanes);
        for (int j = 0; j < n; j++) h[j] = p.H0 == 0 ? TV.Zero : TV.Load((T*)p.H0 + (bi * n + j) * e + c0, lanes);

        for (long t0 = 0; t0 < l; t0 += chunk)
        {
            long t1 = Math.Min(l, t0 + chunk);
            for (long t = t0; t < t1; t++)                                                        // pass 1: Δ_t and Δ_t·u_t
            {
                long row = bi * l + t;
                TV dt = Step(Elements<T, TV>.Load(p.Delta, row * e + c0, p.DeltaBFloat16, lanes) + bias, p.Softplus);
                steps[t - t0] = dt;
                inputs[t - t0] = dt * TV.Load((T*)p.U + row * e + c0, lanes);
            }
            for (long t = t0; t < t1; t++)                                                        // pass 2: the recurrence, C·h_t
            {
                if (p.Checkpoints != 0 && t % p.ChunkLength == 0)
                {
                    T* checkpoint = (T*)p.Checkpoints + (bi * p.Chunks + t / p.ChunkLength) * n * e + c0;
                    for (int s = 0; s < n; s++) TV.Store(h[s], checkpoint + s * e, lanes);
                }
                long row = bi * l + t;
                if (t + chunk < l)                                                                // the next chunk's rows, for passes 1 and 3
                {
                    long ahead = row + chunk;
                    VectorOps.Prefetch(Elements<T, TV>.At(p.Delta, ahead * e + c0, p.DeltaBFloat16));
                    VectorOps.Prefetch((T*)p.U + ahead * e + c0);
                    if (p.Xz != 0) VectorOps.Prefetch(Elements<T, TV>.At(p.Xz, ahead * p.XzStride + p.Channels + c0, p.XzBFloat16));
                    VectorOps.Prefetch(Elements<T, TV>.At(p.Y, ahead * e + c0, p.YBFloat16));
                }
                TV dt = steps[t - t0], dtu = inputs[t - t0];
                T* bRow = (T*)p.Bc + row * p.BcStride + p.BOffset, cRow = (T*)p.Bc + row * p.BcStride + p.COffset;
                TV y = TV.Zero, yOdd = TV.Zero;   // two sums: half the dependency chain
                int j = 0;
                for (; j + 1 < n; j += 2)
                {
                    TV h0 = TV.Fma(TV.Decay(dt, a[j]), h[j], TV.Broadcast(bRow[j]) * dtu);
                    TV h1 = TV.Fma(TV.Decay(dt, a[j + 1]), h[j + 1], TV.Broadcast(bRow[j + 1]) * dtu);
                    h[j] = h0;
                    h[j + 1] = h1;
                    y = TV.Fma(TV.Broadcast(cRow[j]), h0, y);
                    yOdd = TV.Fma(TV.Broadcast(cRow[j + 1]), h1, yOdd);
                }
                for (; j < n; j++)
                {
                    TV hj = TV.Fma(TV.Decay(dt, a[j]), h[j], TV.Broadcast(bRow[j]) * dtu);
                    h[j] = hj;
                    y = TV.Fma(TV.Broadcast(cRow[j]), hj, y);
                }
                readouts[t - t0] = y + yOdd;
            }
            for (long t = t0; t < t1; t++)                                                        // pass 3: y = (C·h + D·u)·silu(z)
            {
                long row = bi * l + t;
                TV y = TV.Fma(skip, TV.Load((T*)p.U + row * e + c0, lanes), readouts[t - t0]);
                if (p.Xz != 0)
                {
                    TV z = Elements<T, TV>.Load(p.Xz, row * p.XzStride + p.Channels + c0, p.XzBFloat16, lanes);
                    y *= z * TV.Sigmoid(z);
                }
                Elements<T, TV>.Store(y, p.Y, row * e + c0, p.YBFloat16, lanes);
            }
        }
        for (int j = 0; j < n; j++) TV.Store(h[j], (T*)p.Last + (bi * n + j) * e + c0, lanes);
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
        MixerKernel<T>.For(args.Batch * tasksPerBatch, 3 * args.Length * args.Channels * args.States, task =>
        {
            long bi = task / tasksPerBatch, part = task % tasksPerBatch;
            long first = blocks * part / tasksPerBatch, end = blocks * (part + 1) / tasksPerBatch;
            int n = (int)args.States, k = (int)args.ChunkLength;
            int size = (k + 1) * n + k * n + 5 * k + (1 + PerState) * n;
            if (backwardScratch is null || backwardScratch.Length < size + 1) backwardScratch = new TV[size + 1];
            fixed (TV* unaligned = backwardScratch)
            {
                TV* s = VectorOps.Aligned(unaligned);
                T* dBc = (T*)args.GradBcPartial + task * args.Length * args.BcStride;
                for (long block = first; block < end; block++) ScanBackwardBlock(args, bi, block * Width, s, dBc);
            }
        });
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]   // SIMD loops: fully optimised from the first call, not tier-0
    static void ScanBackwardBlock(in MixerBuffers p, long bi, long c0, TV* scratch, T* dBc)
    {
        int lanes = (int)Math.Min(Width, p.Channels - c0);
        long e = p.Channels, l = p.Length;
        int n = (int)p.States, k = (int)p.ChunkLength;
        // Scratch: states (k+1)·n (States[i] before step t0+i), decays k·n, Δ, softplus slope, Δ·u, C·h and the gated ∂L/∂y per
        // step, A·RateScale n, then per state j one record of PerState vectors (adjoint, ∂A, A, ∂B term, ∂C term): the
        // adjoint loop walks one pointer through them instead of five, which keeps its accumulators in registers.
        TV* states = scratch, decays = states + (k + 1) * n, steps = decays + k * n, slopes = steps + k, inputs = slopes + k;
        TV* readouts = inputs + k, grads = readouts + k, scaled = grads + k, records = scaled + n;
        TV scale = TV.Broadcast(SelectiveScanKernel<T>.RateScale);
        for (int j = 0; j < n; j++)
        {
            TV* record = records + j * PerState;
            record[Rate] = DecayRate(p, c0, j, lanes);
            scaled[j] = record[Rate] * scale;
            record[Adjoint] = p.GradLast == 0 ? TV.Zero : TV.Load((T*)p.GradLast + (bi * n + j) * e + c0, lanes);
            record[RateGrad] = TV.Zero;
        }
        TV bias = p.DeltaBias == 0 ? TV.Zero : TV.Load((T*)p.DeltaBias + c0, lanes);
        TV skip = p.D == 0 ? TV.Zero : TV.Load((T*)p.D + c0, lanes);
        TV dSkip = TV.Zero;

        for (long chunk = p.Chunks - 1; chunk >= 0; chunk--)
        {
            long t0 = chunk * k, t1 = Math.Min(l, t0 + k);
            T* checkpoint = (T*)p.Checkpoints + (bi * p.Chunks + chunk) * n * e + c0;
            for (int j = 0; j < n; j++) states[j] = TV.Load(checkpoint + j * e, lanes);
            for (long t = t0; t < t1; t++)                                                        // Δ, its slope, Δ·u: off the recurrence's chain
            {
                long i = t - t0, row = bi * l + t;
                TV raw = Elements<T, TV>.Load(p.Delta, row * e + c0, p.DeltaBFloat16, lanes) + bias;
                TV dt = Step(raw, p.Softplus);
                steps[i] = dt;
                slopes[i] = p.Softplus ? TV.Sigmoid(raw) : TV.One;
                inputs[i] = dt * TV.Load((T*)p.U + row * e + c0, lanes);
            }
            for (long t = t0; t < t1; t++)                                                        // recompute the chunk's states
            {
                long i = t - t0, row = bi * l + t;
                if (t0 > 0)                                                                       // the next chunk's (t0 − k ..) inputs
                {
                    long ahead = row - k;
                    VectorOps.Prefetch(Elements<T, TV>.At(p.Delta, ahead * e + c0, p.DeltaBFloat16));
                    VectorOps.Prefetch((T*)p.U + ahead * e + c0);
                    VectorOps.Prefetch(Elements<T, TV>.At(p.GradY, ahead * e + c0, p.YBFloat16));
                    if (p.Xz != 0) VectorOps.Prefetch(Elements<T, TV>.At(p.Xz, ahead * p.XzStride + p.Channels + c0, p.XzBFloat16));
                }
                TV dt = steps[i], dtu = inputs[i];
                T* bc = (T*)p.Bc + row * p.BcStride;
                TV* hPrev = states + i * n, hNext = hPrev + n, dec = decays + i * n;
                T* bRow = bc + p.BOffset, cRow = bc + p.COffset;
                TV y = TV.Zero, yOdd = TV.Zero;   // two sums: half the dependency chain
                int j = 0;
                for (; j + 1 < n; j += 2)
                {
                    TV decay0 = TV.Decay(dt, scaled[j]), decay1 = TV.Decay(dt, scaled[j + 1]);
                    dec[j] = decay0;
                    dec[j + 1] = decay1;
                    TV h0 = TV.Fma(decay0, hPrev[j], TV.Broadcast(bRow[j]) * dtu);
                    TV h1 = TV.Fma(decay1, hPrev[j + 1], TV.Broadcast(bRow[j + 1]) * dtu);
                    hNext[j] = h0;
                    hNext[j + 1] = h1;
                    y = TV.Fma(TV.Broadcast(cRow[j]), h0, y);
                    yOdd = TV.Fma(TV.Broadcast(cRow[j + 1]), h1, yOdd);
                }
                for (; j < n; j++)
                {
                    TV decay = TV.Decay(dt, scaled[j]);
                    dec[j] = decay;
                    TV hj = TV.Fma(decay, hPrev[j], TV.Broadcast(bRow[j]) * dtu);
                    hNext[j] = hj;
                    y = TV.Fma(TV.Broadcast(cRow[j]), hj, y);
                }
                readouts[i] = y + yOdd;
            }
            for (long t = t0; t < t1; t++)                                                        // the gate's backward, ∂L/∂D
            {
                long i = t - t0, row = bi * l + t;
                TV u = TV.Load((T*)p.U + row * e + c0, lanes), g = Elements<T, TV>.Load(p.GradY, row * e + c0, p.YBFloat16, lanes);
                if (p.Xz != 0)
                {
                    TV z = Elements<T, TV>.Load(p.Xz, row * p.XzStride + p.Channels + c0, p.XzBFloat16, lanes), sig = TV.Sigmoid(z);
                    TV yPre = TV.Fma(skip, u, readouts[i]);
                    Elements<T, TV>.Store(g * yPre * sig * (TV.One + z * (TV.One - sig)), p.GradZ, row * p.XzStride + p.Channels + c0, p.XzBFloat16, lanes);
                    g *= z * sig;
                }
                grads[i] = g;
                dSkip = TV.Fma(g, u, dSkip);
            }
            for (long t = t1 - 1; t >= t0; t--)
            {
                long i = t - t0, row = bi * l + t;
                if (t0 > 0)                                                                       // and the rows it will write
                {
                    long ahead = row - k;
                    VectorOps.Prefetch((T*)p.GradU + ahead * e + c0);
                    VectorOps.Prefetch((T*)p.GradDelta + ahead * e + c0);
                    if (p.Xz != 0) VectorOps.Prefetch(Elements<T, TV>.At(p.GradZ, ahead * p.XzStride + p.Channels + c0, p.XzBFloat16));
                }
                TV u = TV.Load((T*)p.U + row * e + c0, lanes), dt = steps[i], dtu = inputs[i], g = grads[i];
                T* bc = (T*)p.Bc + row * p.BcStride;
                T* dBRow = dBc + t * p.BcStride + p.BOffset, dCRow = dBc + t * p.BcStride + p.COffset;
                TV* hPrev = states + i * n, hNext = hPrev + n, dec = decays + i * n;
                // ∂L/∂Δ_t = Σ_j ∂L/∂(Δ_t·A_j)·A_j + u_t·Σ_j ∂L/∂h_t[j]·B_t[j], and ∂L/∂u_t = D·g + Δ_t·Σ_j ∂L/∂h_t[j]·B_t[j]:
                // one sum over j serves both. Two partial sums of each (even and odd j) halve the dependency chains, and the
                // sums end before any call (a partial store, the lane sums): a vector live across a call is kept in memory,
                // and the JIT then stores it on every pass of this loop.
                TV stepAcc = TV.Zero, inputAcc = TV.Zero, stepOdd = TV.Zero, inputOdd = TV.Zero;
                TV* record = records, hp = hPrev, dc = dec;
                T* bj = bc + p.BOffset;                                                           // B_t[j]; C_t[j] is bj[n]
                int j = 0;
                for (; j + 1 < n; j += 2, record += 2 * PerState, hp += 2, dc += 2, bj += 2)
                {
                    TV decay0 = dc[0], decay1 = dc[1];
                    TV* record1 = record + PerState;
                    record[CTerm] = hp[n] * g;                                                    // h_t·g, summed into ∂L/∂C_t
                    record1[CTerm] = hp[n + 1] * g;
                    TV adj0 = TV.Fma(TV.Broadcast(bj[n]), g, record[Adjoint]);                    // ∂L/∂h_t
                    TV adj1 = TV.Fma(TV.Broadcast(bj[n + 1]), g, record1[Adjoint]);
                    TV dExponent0 = adj0 * hp[0] * decay0;                                        // ∂L/∂(Δ_t·A)
                    TV dExponent1 = adj1 * hp[1] * decay1;
                    stepAcc = TV.Fma(dExponent0, record[Rate], stepAcc);
                    stepOdd = TV.Fma(dExponent1, record1[Rate], stepOdd);
                    record[RateGrad] = TV.Fma(dExponent0, dt, record[RateGrad]);
                    record1[RateGrad] = TV.Fma(dExponent1, dt, record1[RateGrad]);
                    record[BTerm] = adj0 * dtu;
                    record1[BTerm] = adj1 * dtu;
                    inputAcc = TV.Fma(adj0, TV.Broadcast(bj[0]), inputAcc);
                    inputOdd = TV.Fma(adj1, TV.Broadcast(bj[1]), inputOdd);
                    record[Adjoint] = adj0 * decay0;                                              // ∂L/∂h_{t−1}
                    record1[Adjoint] = adj1 * decay1;
                }
                for (; j < n; j++, record += PerState, hp++, dc++, bj++)
                {
                    TV decay = *dc;
                    record[CTerm] = hp[n] * g;
                    TV adj = TV.Fma(TV.Broadcast(bj[n]), g, record[Adjoint]);
                    TV dExponent = adj * *hp * decay;
                    stepAcc = TV.Fma(dExponent, record[Rate], stepAcc);
                    record[RateGrad] = TV.Fma(dExponent, dt, record[RateGrad]);
                    record[BTerm] = adj * dtu;
                    inputAcc = TV.Fma(adj, TV.Broadcast(*bj), inputAcc);
                    record[Adjoint] = adj * decay;
                }
                inputAcc += inputOdd;
                TV gradU = TV.Fma(g, skip, dt * inputAcc), gradDelta = TV.Fma(u, inputAcc, stepAcc + stepOdd) * slopes[i];
                TV.Store(gradU, (T*)p.GradU + row * e + c0, lanes);                               // (a partial store is a call)
                TV.Store(gradDelta, (T*)p.GradDelta + row * e + c0, lanes);
                TV.AddLaneSums(records + BTerm, PerState, dBRow, n);                              // ∂L/∂B_t, ∂L/∂C_t: sums over the block's channels
                TV.AddLaneSums(records + CTerm, PerState, dCRow, n);
            }
        }
        for (int j = 0; j < n; j++)
        {
            TV* record = records + j * PerState;
            TV.Store(record[Adjoint], (T*)p.GradH0 + (bi * n + j) * e + c0, lanes);
            Scatter(p.ALog ? record[RateGrad] * record[Rate] : record[RateGrad], (T*)p.GradAPartial + (bi * e + c0) * n + j, n, lanes);   // ∂A/∂A_log = A
        }
        TV.Store(dSkip, (T*)p.GradDPartial + bi * e + c0, lanes);
    }

    /// <summary>How many tasks per batch row the scan backward splits the channel blocks into (each gets its own dB/dC partial).</summary>
    public static int BackwardTasksPerBatch(long batch, long channels, long work) =>
        work < MixerKernel<T>.SerialWork || FusedMixer.Threads == 1 ? 1 : (int)Math.Clamp((4L * FusedMixer.Threads + batch - 1) / batch, 1, Math.Max(1, Blocks(channels)));

    /// <summary>A[c0.., j] for a block: A itself, or −exp(A_log) when the buffer holds A_log (missing lanes: 0).</summary>
    static TV DecayRate(in MixerBuffers p, long c0, int j, int lanes)
    {
        TV column = Gather((T*)p.A + c0 * p.States + j, p.States, lanes);
        if (!p.ALog) return column;
        Span<T> rates = stackalloc T[Width];
        rates.Clear();
        for (int i = 0; i < lanes; i++) rates[i] = -T.Exp(TV.Element(column, i));
        return TV.FromSpan(rates);
    }

    /// <summary>Lanes from <paramref name="source"/>[i·stride] (a column of a row-major (channels, stride) matrix); missing lanes are zero.</summary>
    internal static TV Gather(T* source, long stride, int lanes)
    {
        Span<T> buffer = stackalloc T[Width];
        buffer.Clear();
        for (int i = 0; i < lanes; i++) buffer[i] = source[i * stride];
        return TV.FromSpan(buffer);
    }

    internal static void Scatter(TV value, T* target, long stride, int lanes)
    {
        for (int i = 0; i < lanes; i++) target[i * stride] = TV.Element(value, i);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static TV Step(TV raw, bool softplus) => softplus ? TV.Softplus(raw) : raw;
}
