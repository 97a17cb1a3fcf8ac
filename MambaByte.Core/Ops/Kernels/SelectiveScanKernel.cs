using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

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
            var state = new T[args.PaddedStates];
            fixed (T* h = state)
            {
                for (long c = first; c < end; c++) ForwardChannel(args, c, h);
            }
        });
    }

    static void ForwardChannel(in ScanBuffers p, long channel, T* h)
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

        for (long t = 0; t < l; t++)
        {
            if (checkpoints != null && t % p.ChunkLength == 0)
                new Span<T>(h, (int)np).CopyTo(new Span<T>(checkpoints + t / p.ChunkLength * np, (int)np));
            T dt = Discretisation(delta[t] + bias, p.Softplus);
            T ut = u[t], dtu = dt * ut;
            T* bRow = bt + t * np, cRow = ct + t * np;
            Vector256<T> acc = Vector256<T>.Zero;
            for (long j = 0; j < np; j += Width)
            {
                Vector256<T> decay = Exp(Vector256.Load(a + j) * dt);
                Vector256<T> hj = decay * Vector256.Load(h + j) + Vector256.Load(bRow + j) * dtu;
                hj.Store(h + j);
                acc += Vector256.Load(cRow + j) * hj;
            }
            T yt = Vector256.Sum(acc) + skip * ut;
            if (z != null) yt *= Silu(z[t]);
            y[t] = yt;
        }
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
            var states = new T[(k + 1) * np];
            var decays = new T[k * np];
            var steps = new T[k];
            var gatedInputs = new T[k];
            var adjoint = new T[np];
            var dA = new T[np];
            fixed (T* hs = states, ds = decays, dts = steps, ys = gatedInputs, dh = adjoint, da = dA)
            {
                var scratch = new Scratch(hs, ds, dts, ys, dh, da);
                T* dBt = (T*)args.DBtPartial + (long)task * args.Length * np;
                T* dCt = (T*)args.DCtPartial + (long)task * args.Length * np;
                for (long di = first; di < end; di++) BackwardChannel(args, bi * args.Channels + di, scratch, dBt, dCt);
            }
        });
    }

    readonly struct Scratch(T* states, T* decays, T* steps, T* preGate, T* adjoint, T* dA)
    {
        public readonly T* States = states, Decays = decays, Steps = steps, PreGate = preGate, Adjoint = adjoint, DA = dA;
    }

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
        T dSkip = T.Zero;

        for (long chunk = p.Chunks - 1; chunk >= 0; chunk--)
        {
            long t0 = chunk * k, t1 = Math.Min(l, t0 + k);
            // Recompute the chunk: States[i] is the state before step t0+i, States[i+1] after it.
            new Span<T>(checkpoints + chunk * np, (int)np).CopyTo(new Span<T>(s.States, (int)np));
            for (long t = t0; t < t1; t++)
            {
                long i = t - t0;
                T dt = Discretisation(delta[t] + bias, p.Softplus);
                s.Steps[i] = dt;
                T ut = u[t], dtu = dt * ut;
                T* bRow = bt + t * np, cRow = ct + t * np, hPrev = s.States + i * np, hNext = hPrev + np, dec = s.Decays + i * np;
                Vector256<T> acc = Vector256<T>.Zero;
                for (long j = 0; j < np; j += Width)
                {
                    Vector256<T> decay = Exp(Vector256.Load(a + j) * dt);
                    decay.Store(dec + j);
                    Vector256<T> hj = decay * Vector256.Load(hPrev + j) + Vector256.Load(bRow + j) * dtu;
                    hj.Store(hNext + j);
                    acc += Vector256.Load(cRow + j) * hj;
                }
                s.PreGate[i] = Vector256.Sum(acc) + skip * ut;
            }
            // Adjoint recurrence backwards through the chunk.
            for (long t = t1 - 1; t >= t0; t--)
            {
                long i = t - t0;
                T g = gy[t];
                if (z != null)
                {
                    T zt = z[t], sig = Sigmoid(zt);
                    dz[t] = g * s.PreGate[i] * sig * (T.One + zt * (T.One - sig));
                    g *= zt * sig;
                }
                T ut = u[t], dt = s.Steps[i];
                dSkip += g * ut;
                T* bRow = bt + t * np, cRow = ct + t * np, hPrev = s.States + i * np, hNext = hPrev + np, dec = s.Decays + i * np;
                T* dbRow = dBt + t * np, dcRow = dCt + t * np;
                Vector256<T> stepAcc = Vector256<T>.Zero, inputAcc = Vector256<T>.Zero;
                T dtu = dt * ut;
                for (long j = 0; j < np; j += Width)
                {
                    Vector256<T> bj = Vector256.Load(bRow + j), decay = Vector256.Load(dec + j);
                    (Vector256.Load(dcRow + j) + Vector256.Load(hNext + j) * g).Store(dcRow + j);
                    Vector256<T> adj = Vector256.Load(s.Adjoint + j) + Vector256.Load(cRow + j) * g;  // ∂L/∂h_t
                    Vector256<T> dExponent = adj * Vector256.Load(hPrev + j) * decay;                     // ∂L/∂(Δ_t·A)
                    Vector256<T> aj = Vector256.Load(a + j);
                    stepAcc += dExponent * aj + adj * bj * ut;
                    (Vector256.Load(s.DA + j) + dExponent * dt).Store(s.DA + j);
                    (Vector256.Load(dbRow + j) + adj * dtu).Store(dbRow + j);
                    inputAcc += adj * bj;
                    (adj * decay).Store(s.Adjoint + j);                                                   // ∂L/∂h_{t-1}
                }
                du[t] = g * skip + dt * Vector256.Sum(inputAcc);
                T dStep = Vector256.Sum(stepAcc);
                ddelta[t] = p.Softplus ? dStep * Sigmoid(delta[t] + bias) : dStep;
            }
        }
        dh.CopyTo(new Span<T>((T*)p.GradH0 + channel * np, (int)np));
        new Span<T>(s.DA, (int)np).CopyTo(new Span<T>((T*)p.GradAPartial + channel * np, (int)np));
        ((T*)p.GradDPartial)[channel] = dSkip;
    }

    /// <summary>Splits the work into a few tasks per core so uneven cores still finish together.</summary>
    public static int TaskCount(long items) => (int)Math.Max(1, Math.Min(items, 4L * Environment.ProcessorCount));

    static (long First, long End) Range(long items, int parts, int part) => (items * part / parts, items * (part + 1) / parts);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static T Discretisation(T x, bool softplus) => softplus ? Softplus(x) : x;

    /// <summary>log(1 + eˣ) as torch computes it (threshold 20), with an accurate log1p.</summary>
    static T Softplus(T x)
    {
        if (x > T.CreateTruncating(20)) return x;
        T e = T.Exp(x), onePlus = T.One + e;
        return onePlus == T.One ? e : T.Log(onePlus) * e / (onePlus - T.One);
    }

    static T Sigmoid(T x) => T.One / (T.One + T.Exp(-x));

    static T Silu(T x) => x * Sigmoid(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<T> Exp(Vector256<T> x)
    {
        if (typeof(T) == typeof(float)) return Vector256.Exp(x.As<T, float>()).As<float, T>();
        if (typeof(T) == typeof(double)) return Vector256.Exp(x.As<T, double>()).As<double, T>();
        throw new NotSupportedException($"selective scan kernel: {typeof(T).Name} is not supported");
    }
}
