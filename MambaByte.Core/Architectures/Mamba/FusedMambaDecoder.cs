using System.Numerics;
using System.Runtime.CompilerServices;
using MambaByte.Core.Models;
using MambaByte.Core.Ops.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Core.Architectures.Mamba;

/// <summary>
/// The whole Mamba model's recurrent step on the CPU in C# SIMD, with no tensor operation per byte: embedding row
/// → per layer (residual add, RMSNorm, in_proj, conv-window roll + dot + SiLU, x_proj, dt_proj + softplus,
/// h = exp(Δ·A)·h + Δ·B·x, y = C·h + D·x, gate silu(z), out_proj) → final add and norm → LM head, over buffers
/// allocated once. It reads and writes the same <see cref="MambaInferenceState"/> tensors as the reference step
/// (<see cref="MambaBackbone.Step"/>), so <see cref="MambaLMHeadModel.Prefill"/> and steps of either kind mix freely.
///
/// Weights: in <see cref="WeightFormat.Fp32"/> the kernels read the model's parameter storage in place (no copy,
/// and in-place updates such as optimiser steps are seen at once); in <see cref="WeightFormat.Bf16"/> and
/// <see cref="WeightFormat.Int8"/> in_proj, out_proj and the head are held as compact copies, and the model's
/// own values of those matrices are replaced by the dequantised ones, so every path computes with the same weights.
/// Must equal the reference step: float64 to 1e-10, float32 to 1e-5 (tests drive 1000 bytes through both).
/// </summary>
public sealed unsafe class FusedMambaDecoder
{
    readonly IStepCore core;
    readonly nint[] signature;

    FusedMambaDecoder(IStepCore core, nint[] signature, WeightFormat weights)
    {
        this.core = core;
        this.signature = signature;
        Weights = weights;
    }

    public WeightFormat Weights { get; }

    /// <summary>
    /// Multiply-adds (rows × columns × batch) from which a matrix product is split over the cores (and the scan
    /// from a quarter of it). See <see cref="GemvKernel{T}.ParallelThreshold"/> for the measurement behind the default.
    /// </summary>
    public static long ParallelThreshold
    {
        get => GemvKernel<float>.ParallelThreshold;
        set
        {
            ArgumentOutOfRangeException.ThrowIfNegative(value);
            GemvKernel<float>.ParallelThreshold = value;
            GemvKernel<double>.ParallelThreshold = value;
        }
    }

    /// <summary>Why the fused step cannot run this model, or null when it can.</summary>
    public static string? Unsupported(MambaLMHeadModel model)
    {
        if (model.Device.type != DeviceType.CPU) return $"the fused step runs on the CPU; the model is on {model.Device}";
        if (model.DType is not (ScalarType.Float32 or ScalarType.Float64)) return $"the fused step needs float32 or float64 weights; the model is {model.DType}";
        if (!model.Config.RmsNorm) return "the fused step implements RMSNorm; this model uses LayerNorm (rms_norm: false)";
        return null;
    }

    /// <summary>
    /// Builds the decoder over <paramref name="model"/>'s weights. For a compact <paramref name="weights"/> format
    /// the model's in_proj, out_proj and head values are rounded in place to that format.
    /// </summary>
    public static FusedMambaDecoder Create(MambaLMHeadModel model, Tensor headWeight, WeightFormat weights = WeightFormat.Fp32)
    {
        string? problem = Unsupported(model);
        if (problem is not null) throw new NotSupportedException(problem);
        if (weights != WeightFormat.Fp32 && model.DType != ScalarType.Float32)
            throw new NotSupportedException($"--weights {weights.ToString().ToLowerInvariant()} needs a float32 model; the model is {model.DType}");
        using var noGrad = no_grad();
        IStepCore core = model.DType == ScalarType.Float64
            ? new Core<double>(model, headWeight, weights)
            : new Core<float>(model, headWeight, weights);
        return new FusedMambaDecoder(core, Signature(model, headWeight), weights);
    }

    /// <summary>
    /// The storage addresses the decoder was built over. Moving the model (<c>to(dtype)</c>, <c>to(device)</c>)
    /// replaces them, and the model then builds a new decoder; in-place updates keep them.
    /// </summary>
    internal static nint[] Signature(MambaLMHeadModel model, Tensor headWeight) =>
        model.Device.type == DeviceType.CPU
            ? [TensorAddress.Of(model.Backbone.Embedding.weight!), TensorAddress.Of(headWeight), (nint)model.DType]
            : [0, 0, (nint)model.DType];

    internal bool Matches(nint[] current) => signature.AsSpan().SequenceEqual(current);

    /// <summary>One byte per sequence: bytes (b) int64 → logits (b, 256) in the model's dtype; advances nothing (the caller does).</summary>
    public Tensor Step(Tensor bytes, MambaInferenceState state)
    {
        int batch = checked((int)bytes.shape[0]);
        Span<byte> values = batch <= 1024 ? stackalloc byte[batch] : new byte[batch];
        using (Tensor host = bytes.dtype == ScalarType.Int64 && bytes.device.type == DeviceType.CPU && bytes.is_contiguous() ? bytes.alias() : bytes.to(int64).cpu().contiguous())
        {
            using var ids = host.data<long>();
            for (int b = 0; b < batch; b++)
            {
                long id = ids[b];
                if ((ulong)id > 255) throw new ArgumentException($"byte value {id} out of range 0-255");
                values[b] = (byte)id;
            }
        }
        core.Run(values, state);
        return core.Logits(batch);
    }

    /// <summary>One byte per sequence with no tensor at all: logits (b × 256, row-major) as float.</summary>
    public void Step(ReadOnlySpan<byte> bytes, MambaInferenceState state, Span<float> logits)
    {
        if (logits.Length < bytes.Length * ByteLanguageModel.ByteVocabulary)
            throw new ArgumentException($"logits buffer holds {logits.Length} values, need {bytes.Length * ByteLanguageModel.ByteVocabulary}");
        core.Run(bytes, state);
        core.CopyLogits(bytes.Length, logits);
    }

    /// <summary>
    /// K bytes of ONE sequence (a batch-1 state) in one call, the "chunk step": every matrix product runs over the
    /// K rows at once (the weights are read once per call, as for a batch of K sequences), the conv window and the
    /// selective scan advance position by position. Logits (K × 256, row-major) as float, one row per position;
    /// they equal K single <see cref="Step(ReadOnlySpan{byte}, MambaInferenceState, Span{float})"/> calls bit for
    /// bit (the products sum every output in one order whatever the batch). With <paramref name="firstSnapshot"/>
    /// ≥ 0 the state after position t is also kept in snapshot slot firstSnapshot + t, for
    /// <see cref="RestoreSnapshot"/>; slots stay valid until overwritten. Advances nothing (the caller does).
    /// </summary>
    public void StepChunk(ReadOnlySpan<byte> bytes, MambaInferenceState state, Span<float> logits, int firstSnapshot = -1)
    {
        if (logits.Length < bytes.Length * ByteLanguageModel.ByteVocabulary)
            throw new ArgumentException($"logits buffer holds {logits.Length} values, need {bytes.Length * ByteLanguageModel.ByteVocabulary}");
        if (state.BatchSize != 1) throw new ArgumentException($"the chunk step runs one sequence; the inference state is for batch {state.BatchSize}");
        if (bytes.Length == 0) return;
        core.RunChunk(bytes, state, firstSnapshot);
        core.CopyLogits(bytes.Length, logits);
    }

    /// <summary><see cref="StepChunk(ReadOnlySpan{byte}, MambaInferenceState, Span{float}, int)"/> with logits (K, 256) in the model's dtype.</summary>
    public Tensor StepChunk(ReadOnlySpan<byte> bytes, MambaInferenceState state, int firstSnapshot = -1)
    {
        if (state.BatchSize != 1) throw new ArgumentException($"the chunk step runs one sequence; the inference state is for batch {state.BatchSize}");
        if (bytes.Length == 0) throw new ArgumentException("the chunk step needs at least one byte");
        core.RunChunk(bytes, state, firstSnapshot);
        return core.Logits(bytes.Length);
    }

    /// <summary>
    /// Makes <paramref name="state"/> the state kept in snapshot slot <paramref name="slot"/> by
    /// <see cref="StepChunk"/> on that same state object; returns the position (bytes consumed) at that slot.
    /// </summary>
    public long RestoreSnapshot(int slot, MambaInferenceState state) => core.Restore(slot, state);

    interface IStepCore
    {
        void Run(ReadOnlySpan<byte> bytes, MambaInferenceState state);

        void RunChunk(ReadOnlySpan<byte> bytes, MambaInferenceState state, int firstSnapshot);

        long Restore(int slot, MambaInferenceState state);

        Tensor Logits(int batch);

        void CopyLogits(int batch, Span<float> logits);
    }

    sealed class Core<T> : IStepCore where T : unmanaged, IBinaryFloatingPointIeee754<T>
    {
        const int Vocabulary = ByteLanguageModel.ByteVocabulary;

        readonly int dModel, dInner, dState, dtRank, dConv, xDblWidth;
        readonly T eps;
        readonly WeightFormat format;
        readonly LayerWeights[] layers;
        readonly T* embedding;                 // (vocab, d_model)
        readonly GemvMatrix head;              // the first 256 rows of lm_head.weight
        readonly T* normF;
        readonly List<object> keepAlive = [];  // tensors and pinned arrays the addresses point into

        int capacity;
        T* residual, hidden, normed, xz, xc, xDbl, y, dt, a, logits;
        T[]? arena;

        MambaInferenceState? lastState;
        nint[] stateAddresses = [];

        int snapshotSlots;
        T* snapshots;
        T[]? snapshotArena;
        MambaInferenceState?[] snapshotOwner = [];
        long[] snapshotPosition = [];

        public Core(MambaLMHeadModel model, Tensor headWeight, WeightFormat weights)
        {
            MambaConfig c = model.Config;
            (dModel, dInner, dState, dtRank, dConv) = (c.DModel, c.DInner, c.DState, c.ResolvedDtRank, c.DConv);
            xDblWidth = dtRank + 2 * dState;
            eps = T.CreateTruncating(c.NormEpsilon);
            format = weights;
            Dictionary<string, Tensor> sd = model.state_dict();
            T* Plain(string name) => (T*)Keep(sd[name]);

            layers = new LayerWeights[c.NLayer];
            for (int i = 0; i < c.NLayer; i++)
            {
                string p = $"backbone.layers.{i}.mixer.";
                layers[i] = new LayerWeights
                {
                    Norm = Plain($"backbone.layers.{i}.norm.weight"),
                    InProj = Matrix(sd[p + "in_proj.weight"], sd.GetValueOrDefault(p + "in_proj.bias"), 2 * dInner),
                    ConvWeight = Plain(p + "conv1d.weight"),
                    ConvBias = sd.TryGetValue(p + "conv1d.bias", out Tensor? cb) ? (T*)Keep(cb) : null,
                    XProj = new GemvMatrix(Keep(sd[p + "x_proj.weight"]), xDblWidth, dInner),
                    DtWeight = Plain(p + "dt_proj.weight"),
                    DtBias = Plain(p + "dt_proj.bias"),
                    ALog = Plain(p + "A_log"),
                    D = Plain(p + "D"),
                    OutProj = Matrix(sd[p + "out_proj.weight"], sd.GetValueOrDefault(p + "out_proj.bias"), dModel),
                };
            }
            normF = Plain("backbone.norm_f.weight");
            head = Matrix(headWeight, null, Vocabulary);
            // Read after the head: a tied compact head has just replaced these values with its dequantised ones.
            embedding = (T*)Keep(model.Backbone.Embedding.weight!);
        }

        nint Keep(Tensor t)
        {
            keepAlive.Add(t);
            return TensorAddress.Of(t);
        }

        /// <summary>
        /// The first <paramref name="rows"/> rows of a (rows', cols) weight, in this decoder's format: fp32 is the model's own
        /// row-major tensor; bf16 and int8 are compact copies in the <see cref="WeightTiles"/> layout.
        /// </summary>
        GemvMatrix Matrix(Tensor weight, Tensor? bias, int rows)
        {
            int cols = checked((int)weight.shape[1]);
            nint b = bias is null ? 0 : Keep(bias);
            if (format == WeightFormat.Fp32) return new GemvMatrix(Keep(weight), rows, cols, 0, b);

            // Compact copy of the used rows; the model's values become the dequantised ones.
            using Tensor used = weight.narrow(0, 0, rows);
            float[] values;
            using (Tensor dense = used.contiguous()) values = dense.data<float>().ToArray();
            if (format == WeightFormat.Bf16)
            {
                var rounded = new ushort[values.Length];
                for (int i = 0; i < values.Length; i++)
                {
                    rounded[i] = CompactWeights.ToBFloat16(values[i]);
                    values[i] = CompactWeights.FromBFloat16(rounded[i]);
                }
                ushort[] packed = WeightTiles.Pack<ushort>(rounded, rows, cols);
                keepAlive.Add(packed);
                using (Tensor widened = torch.tensor(values, [rows, cols])) used.copy_(widened);
                fixed (ushort* data = packed) return new GemvMatrix((nint)data, rows, cols, 0, b);
            }
            var q = new sbyte[values.Length];
            float[] scales = GC.AllocateUninitializedArray<float>(rows, pinned: true);
            for (int r = 0; r < rows; r++)
            {
                Span<float> row = values.AsSpan(r * cols, cols);
                Span<sbyte> qr = q.AsSpan(r * cols, cols);
                scales[r] = CompactWeights.QuantizeInt8(row, qr);
                for (int j = 0; j < cols; j++) row[j] = qr[j] * scales[r];
            }
            sbyte[] tiled = WeightTiles.Pack<sbyte>(q, rows, cols);
            keepAlive.Add(tiled);
            keepAlive.Add(scales);
            using (Tensor dequantised = torch.tensor(values, [rows, cols])) used.copy_(dequantised);
            fixed (sbyte* data = tiled) fixed (float* s = scales) return new GemvMatrix((nint)data, rows, cols, (nint)s, b);
        }

        // Fully optimised from the first call: tier-0 code of these loops would dominate a short generation.
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void Run(ReadOnlySpan<byte> bytes, MambaInferenceState state)
        {
            if (bytes.Length != state.BatchSize) throw new ArgumentException($"inference state is for batch {state.BatchSize}, got {bytes.Length} sequences");
            Forward(bytes, state, chunk: false, -1);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public void RunChunk(ReadOnlySpan<byte> bytes, MambaInferenceState state, int firstSnapshot)
        {
            if (firstSnapshot >= 0)
            {
                EnsureSnapshots(firstSnapshot + bytes.Length);
                for (int t = 0; t < bytes.Length; t++) (snapshotOwner[firstSnapshot + t], snapshotPosition[firstSnapshot + t]) = (state, state.Position + t + 1);
            }
            Forward(bytes, state, chunk: true, firstSnapshot);
        }

        /// <summary>
        /// Rows of <paramref name="bytes"/> are either one byte of each sequence in the batch (<paramref name="chunk"/>
        /// false) or consecutive bytes of the one sequence (true): the products treat both alike; the conv and the
        /// scan then either take each row's own state or carry one state from row to row.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void Forward(ReadOnlySpan<byte> bytes, MambaInferenceState state, bool chunk, int firstSnapshot)
        {
            int batch = bytes.Length;
            if (state.Layers.Count != layers.Length) throw new ArgumentException($"inference state has {state.Layers.Count} layers, the model {layers.Length}");
            EnsureCapacity(batch);
            nint[] states = StateAddresses(state);

            for (int b = 0; b < batch; b++) EmbeddingRow(bytes[b], residual + (long)b * dModel);
            for (int i = 0; i < layers.Length; i++)
            {
                ref LayerWeights w = ref layers[i];
                if (i > 0)
                    for (int b = 0; b < batch; b++) StepKernel<T>.Add(residual + (long)b * dModel, hidden + (long)b * dModel, dModel);
                for (int b = 0; b < batch; b++) StepKernel<T>.RmsNorm(residual + (long)b * dModel, w.Norm, eps, normed + (long)b * dModel, dModel);
                Gemv(w.InProj, format, normed, dModel, batch, xz, 2 * dInner);                                    // (b, 2*d_inner)
                T* conv = (T*)states[2 * i], ssm = (T*)states[2 * i + 1];
                long convSize = (long)dInner * dConv, ssmSize = (long)dInner * dState;
                for (int b = 0; b < batch; b++)
                {
                    T* window = chunk ? conv : conv + b * convSize;
                    StepKernel<T>.ConvSilu(window, xz + (long)b * 2 * dInner, w.ConvWeight, w.ConvBias, xc + (long)b * dInner, dInner, dConv);
                    if (firstSnapshot >= 0) Copy(window, SnapshotConv(firstSnapshot + b, i), convSize);
                }
                Gemv(w.XProj, WeightFormat.Fp32, xc, dInner, batch, xDbl, xDblWidth);                             // (b, dt_rank+2*d_state)
                StepKernel<T>.NegExp(w.ALog, a, (long)dInner * dState);
                if (!chunk) ScanAll(w, ssm, batch);                                                                // y: (b, d_inner)
                else if (firstSnapshot < 0)
                    for (int t = 0; t < batch; t++) ScanRow(w, ssm, ssm, t);
                else
                {
                    // Out of place into the slots (h after position t in slot first + t), then the last into the state.
                    for (int t = 0; t < batch; t++) ScanRow(w, t == 0 ? ssm : SnapshotSsm(firstSnapshot + t - 1, i), SnapshotSsm(firstSnapshot + t, i), t);
                    Copy(SnapshotSsm(firstSnapshot + batch - 1, i), ssm, ssmSize);
                }
                Gemv(w.OutProj, format, y, dInner, batch, hidden, dModel);                                        // (b, d_model)
            }
            for (int b = 0; b < batch; b++)
            {
                StepKernel<T>.Add(residual + (long)b * dModel, hidden + (long)b * dModel, dModel);
                StepKernel<T>.RmsNorm(residual + (long)b * dModel, normF, eps, normed + (long)b * dModel, dModel);
            }
            Gemv(head, format, normed, dModel, batch, logits, Vocabulary);                                        // (b, 256)
        }

        /// <summary>The scan over every (sequence, channel), split over the cores when there is enough of it.</summary>
        void ScanAll(in LayerWeights w, T* ssm, int batch)
        {
            if (SerialScan(batch))
            {
                for (int b = 0; b < batch; b++) StepKernel<T>.Scan(ScanArgs(w, ssm, b), 0, dInner);
                return;
            }
            LayerWeights lw = w;
            nint ssmAddress = (nint)ssm;
            int tasks = Environment.ProcessorCount;
            Parallel.For(0, tasks * batch, part =>
            {
                int b = part / tasks, t = part % tasks;
                StepKernel<T>.Scan(ScanArgs(lw, (T*)ssmAddress, b), SplitPoint(t, tasks), SplitPoint(t + 1, tasks));
            });
        }

        /// <summary>
        /// One row's scan, h read from <paramref name="hIn"/> and written to <paramref name="hOut"/> (the same for in
        /// place), its channels split over the cores when there is enough of it (as <see cref="ScanAll"/>).
        /// </summary>
        void ScanRow(in LayerWeights w, T* hIn, T* hOut, int row)
        {
            StepKernel<T>.ScanStep args = ScanArgs(w, hIn, hOut, row);
            if (SerialScan(1))
            {
                StepKernel<T>.Scan(args, 0, dInner);
                return;
            }
            int tasks = Environment.ProcessorCount;
            Parallel.For(0, tasks, t => StepKernel<T>.Scan(args, SplitPoint(t, tasks), SplitPoint(t + 1, tasks)));
        }

        /// <summary>Whether the scan of <paramref name="rows"/> rows is too little work to split over the cores (or there is one core).</summary>
        bool SerialScan(int rows) =>
            (long)rows * dInner * (dState + dtRank) < GemvKernel<T>.ParallelThreshold / 4 || Environment.ProcessorCount == 1;

        /// <summary>Where piece <paramref name="part"/> of <paramref name="parts"/> starts: a multiple of 8 channels, so each channel takes the same vector or scalar path as in one piece.</summary>
        int SplitPoint(int part, int parts) => part == parts ? dInner : dInner * part / parts / 8 * 8;

        StepKernel<T>.ScanStep ScanArgs(in LayerWeights w, T* ssm, int b) =>
            ScanArgs(w, ssm + (long)b * dInner * dState, ssm + (long)b * dInner * dState, b);

        StepKernel<T>.ScanStep ScanArgs(in LayerWeights w, T* hIn, T* hOut, int b) => new(
            xDbl + (long)b * xDblWidth, xc + (long)b * dInner, xz + (long)b * 2 * dInner + dInner, hIn, hOut,
            a, w.DtWeight, w.DtBias, w.D, y + (long)b * dInner, dt + (long)b * dInner, dtRank, dState);

        static void Copy(T* from, T* to, long count) =>
            Buffer.MemoryCopy(from, to, count * sizeof(T), count * sizeof(T));

        // Snapshot slots: per slot, per layer, the conv window (d_inner, d_conv) then h (d_inner, d_state).
        T* SnapshotConv(int slot, int layer) => snapshots + ((long)slot * layers.Length + layer) * ((long)dInner * (dConv + dState));

        T* SnapshotSsm(int slot, int layer) => SnapshotConv(slot, layer) + (long)dInner * dConv;

        void EnsureSnapshots(int slots)
        {
            if (slots <= snapshotSlots) return;
            long perSlot = (long)layers.Length * dInner * (dConv + dState);
            T[] grown = GC.AllocateUninitializedArray<T>(checked((int)(perSlot * slots)), pinned: true);
            snapshotArena?.CopyTo(grown, 0);                                                       // slots kept so far stay valid
            snapshotArena = grown;
            fixed (T* start = snapshotArena) snapshots = start;
            Array.Resize(ref snapshotOwner, slots);
            Array.Resize(ref snapshotPosition, slots);
            snapshotSlots = slots;
        }

        public long Restore(int slot, MambaInferenceState state)
        {
            if ((uint)slot >= (uint)snapshotSlots || !ReferenceEquals(snapshotOwner[slot], state))
                throw new ArgumentException($"snapshot slot {slot} holds no state of this inference state (keep it with StepChunk's firstSnapshot)");
            nint[] states = StateAddresses(state);
            for (int i = 0; i < layers.Length; i++)
            {
                Copy(SnapshotConv(slot, i), (T*)states[2 * i], (long)dInner * dConv);
                Copy(SnapshotSsm(slot, i), (T*)states[2 * i + 1], (long)dInner * dState);
            }
            return snapshotPosition[slot];
        }

        void EmbeddingRow(byte id, T* row) =>
            new ReadOnlySpan<T>(embedding + (long)id * dModel, dModel).CopyTo(new Span<T>(row, dModel));

        static void Gemv(in GemvMatrix m, WeightFormat f, T* x, long xStride, int batch, T* yOut, long yStride)
        {
            switch (f)
            {
                case WeightFormat.Fp32: GemvKernel<T>.Run<PlainLoad<T>>(m, x, xStride, batch, yOut, yStride); break;
                case WeightFormat.Bf16: GemvKernel<float>.Run<BFloat16Load>(m, (float*)x, xStride, batch, (float*)yOut, yStride); break;
                default: GemvKernel<float>.Run<Int8Load>(m, (float*)x, xStride, batch, (float*)yOut, yStride); break;
            }
        }

        nint[] StateAddresses(MambaInferenceState state)
        {
            if (ReferenceEquals(state, lastState)) return stateAddresses;
            ScalarType expected = typeof(T) == typeof(double) ? ScalarType.Float64 : ScalarType.Float32;
            var addresses = new nint[2 * layers.Length];
            for (int i = 0; i < layers.Length; i++)
            {
                MambaLayerState s = state.Layers[i];
                if (s.ConvState.dtype != expected || s.SsmState.dtype != expected)
                    throw new ArgumentException($"inference state is {s.ConvState.dtype}/{s.SsmState.dtype}; the fused step runs in {expected}");
                if (s.ConvState.shape[1] != dInner || s.ConvState.shape[2] != dConv || s.SsmState.shape[2] != dState)
                    throw new ArgumentException("inference state shape does not match the model");
                addresses[2 * i] = TensorAddress.Of(s.ConvState);
                addresses[2 * i + 1] = TensorAddress.Of(s.SsmState);
            }
            (lastState, stateAddresses) = (state, addresses);
            return addresses;
        }

        void EnsureCapacity(int batch)
        {
            if (batch <= capacity) return;
            long perRow = 3L * dModel + 2 * dInner + dInner + xDblWidth + 2 * dInner + Vocabulary;
            long total = perRow * batch + (long)dInner * dState;
            long[] sizes = [dModel, dModel, dModel, 2L * dInner, dInner, xDblWidth, dInner];
            int align = 64 / sizeof(T);
            arena = GC.AllocateUninitializedArray<T>(checked((int)(total + 16L * align)), pinned: true);
            fixed (T* start = arena)
            {
                T* p = start;
                T* Take(long count)
                {
                    T* q = p;
                    p += (count + align - 1) / align * align;
                    return q;
                }
                residual = Take(sizes[0] * batch);
                hidden = Take(sizes[1] * batch);
                normed = Take(sizes[2] * batch);
                xz = Take(sizes[3] * batch);
                xc = Take(sizes[4] * batch);
                xDbl = Take(sizes[5] * batch);
                y = Take(sizes[6] * batch);
                dt = Take((long)dInner * batch);
                a = Take((long)dInner * dState);
                logits = Take((long)Vocabulary * batch);
            }
            capacity = batch;
        }

        public Tensor Logits(int batch)
        {
            ScalarType dtype = typeof(T) == typeof(double) ? ScalarType.Float64 : ScalarType.Float32;
            Tensor result = empty([batch, Vocabulary], dtype: dtype);
            new ReadOnlySpan<byte>(logits, batch * Vocabulary * sizeof(T)).CopyTo(result.bytes);
            return result;
        }

        public void CopyLogits(int batch, Span<float> destination)
        {
            for (int i = 0; i < batch * Vocabulary; i++) destination[i] = float.CreateTruncating(logits[i]);
        }

        struct LayerWeights
        {
            public T* Norm, ConvWeight, ConvBias, DtWeight, DtBias, ALog, D;
            public GemvMatrix InProj, XProj, OutProj;
        }
    }
}
