using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// Custom autograd node around <see cref="MixerKernel{T}.ScanForward"/>: the selective scan with softplus(Δ + bias),
/// the D skip and the silu(z) gate, reading the (b, l, ·) tensors the projections produce. Inputs (in this order):
/// u = conv output (b, l, e), delta = dt_proj output without bias (b, l, e), A (e, n), xDbl = x_proj output
/// (b, l, r + 2n) holding B at columns r.. and C at r+n.., D (e)?, xz (b, l, 2e)? whose second half is z, deltaBias (e)?,
/// h₀ transposed (b, n, e)?, dt_rank (long), softplus (bool), keepCheckpoints (bool), aLog (bool: the A input is A_log
/// and A = −exp(A_log) is formed inside the kernel, its gradient returned for A_log). Outputs: y (b, l, e) and the last
/// state transposed (b, n, e). Saved for backward: the inputs plus the state every
/// <see cref="SelectiveScan.FusedCheckpointInterval"/> steps (b, ⌈l/K⌉, n, e); never a (b, l, e, n) tensor.
/// </summary>
internal sealed class FusedMixerScanFunction : autograd.MultiTensorFunction<FusedMixerScanFunction>
{
    public override string Name => nameof(FusedMixerScanFunction);

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var u = (Tensor)vars[0];
        var delta = (Tensor)vars[1];
        var A = (Tensor)vars[2];
        var xDbl = (Tensor)vars[3];
        Tensor? D = vars[4] as Tensor, xz = vars[5] as Tensor, deltaBias = vars[6] as Tensor, h0 = vars[7] as Tensor;
        long dtRank = (long)vars[8];
        bool softplus = (bool)vars[9], keepCheckpoints = (bool)vars[10], aLog = (bool)vars[11];

        var (y, last, checkpoints) = RunForward(u, delta, A, xDbl, D, xz, deltaBias, h0, dtRank, softplus, aLog, keepCheckpoints);

        if (keepCheckpoints)
        {
            ctx.set_materialize_grads(false);
            ctx.save_for_backward([u, delta, A, xDbl, D!, xz!, deltaBias!, h0!, checkpoints!]);
            ctx.save_data("dtRank", dtRank);
            ctx.save_data("softplus", softplus);
            ctx.save_data("aLog", aLog);
        }
        return [y, last];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
    {
        using var scope = NewDisposeScope();
        List<Tensor> saved = ctx.get_saved_variables();
        Tensor u = saved[0], delta = saved[1], A = saved[2], xDbl = saved[3];
        Tensor? D = saved[4], xz = saved[5], deltaBias = saved[6], h0 = saved[7];
        Tensor checkpoints = saved[8] ?? throw new InvalidOperationException("bug: fused mixer scan backward called without saved checkpoints");
        long dtRank = (long)ctx.get_data("dtRank");
        bool softplus = (bool)ctx.get_data("softplus"), aLog = (bool)ctx.get_data("aLog");

        Tensor gy = Defined(gradOutputs[0]) is { } g ? g.to_type(u.dtype).contiguous() : zeros_like(u);     // (b, l, e)
        Tensor? gLast = Defined(gradOutputs[1]) is { } gl ? gl.to_type(u.dtype).contiguous() : null;       // (b, n, e)
        Tensor? dXz = xz is null ? null : zeros_like(xz);                                    // (b, l, 2e), z half filled
        ScanGradients d = RunBackward(u, delta, A, xDbl, D, xz, deltaBias, h0, dtRank, softplus, aLog, checkpoints, gy, gLast, dXz);
        Tensor?[] grads =
        [
            d.U, d.Delta, d.A, d.XDbl, D is null ? null : d.D, dXz,
            deltaBias is null ? null : d.Delta.sum([0, 1]), h0 is null ? null : d.H0, null, null, null, null,
        ];
        return grads.Select(t => t?.MoveToOuterDisposeScope()!).ToList();
    }

    /// <summary>
    /// The scan kernel on ready (contiguous, kernel-dtype) tensors, arguments as <see cref="forward"/>'s: returns y
    /// (b, l, e), the last state transposed (b, n, e) and, when <paramref name="keepCheckpoints"/>, the checkpointed
    /// states (b, ⌈l/K⌉, n, e) the backward needs. Under float32 compute, delta and xz may be bfloat16 (read as they
    /// are) and y may be asked for in bfloat16 (<paramref name="yDtype"/>: rounded as it is written).
    /// </summary>
    internal static (Tensor Y, Tensor Last, Tensor? Checkpoints) RunForward(
        Tensor u, Tensor delta, Tensor A, Tensor xDbl, Tensor? D, Tensor? xz, Tensor? deltaBias, Tensor? h0, long dtRank, bool softplus, bool aLog,
        bool keepCheckpoints, ScalarType? yDtype = null)
    {
        long batch = u.shape[0], length = u.shape[1], channels = u.shape[2], states = A.shape[1];
        long k = SelectiveScan.FusedCheckpointInterval, chunks = (length + k - 1) / k;
        Tensor y = empty(u.shape, dtype: yDtype ?? u.dtype);                                 // (b, l, e)
        Tensor last = empty(batch, states, channels, dtype: u.dtype);                        // (b, n, e)
        Tensor? checkpoints = keepCheckpoints ? empty(batch, chunks, states, channels, dtype: u.dtype) : null;
        var buffers = Buffers(u, delta, A, xDbl, D, xz, deltaBias, h0, dtRank, softplus, aLog) with
        {
            Chunks = chunks, Y = TensorAddress.Of(y), YBFloat16 = y.dtype == ScalarType.BFloat16, Last = TensorAddress.Of(last), Checkpoints = TensorAddress.Of(checkpoints),
        };
        if (u.dtype == ScalarType.Float64) MixerKernel<double>.ScanForward(buffers);
        else MixerKernel<float>.ScanForward(buffers);
        return (y, last, checkpoints);
    }

    /// <summary>The scan's gradients: u, Δ (before the bias), A (or A_log), xDbl (B and C columns; the first dt_rank 0), D, h₀ transposed.</summary>
    internal readonly record struct ScanGradients(Tensor U, Tensor Delta, Tensor A, Tensor XDbl, Tensor D, Tensor H0);

    /// <summary>
    /// The scan kernel's backward on ready tensors, from the forward's <paramref name="checkpoints"/> and the gradients
    /// of y (b, l, e) and the last state (b, n, e)?. ∂L/∂z goes into the z half of <paramref name="gradZ"/> (b, l, 2e,
    /// in xz's dtype), required when the scan is gated (xz given); its x half is not touched. delta, xz and the gradient
    /// of y may be bfloat16 under float32 compute.
    /// </summary>
    internal static ScanGradients RunBackward(
        Tensor u, Tensor delta, Tensor A, Tensor xDbl, Tensor? D, Tensor? xz, Tensor? deltaBias, Tensor? h0, long dtRank, bool softplus, bool aLog,
        Tensor checkpoints, Tensor gy, Tensor? gLast, Tensor? gradZ)
    {
        long batch = u.shape[0], length = u.shape[1], channels = u.shape[2], states = A.shape[1];
        int tasksPerBatch = u.dtype == ScalarType.Float64
            ? MixerKernel<double>.BackwardTasksPerBatch(batch, channels, length * channels * states)
            : MixerKernel<float>.BackwardTasksPerBatch(batch, channels, length * channels * states);
        Tensor du = empty_like(u), dDelta = empty_like(u);
        Tensor dAPartial = empty(batch, channels, states, dtype: u.dtype);                   // (b, e, n)
        Tensor dDPartial = empty(batch, channels, dtype: u.dtype);                           // (b, e)
        Tensor dH0 = empty(batch, states, channels, dtype: u.dtype);                         // (b, n, e)
        Tensor dBcPartial = zeros(batch, tasksPerBatch, length, xDbl.shape[2], dtype: u.dtype); // (b, tasks, l, r+2n), B and C columns filled
        var buffers = Buffers(u, delta, A, xDbl, D, xz, deltaBias, h0, dtRank, softplus, aLog) with
        {
            Chunks = checkpoints.shape[1], Checkpoints = TensorAddress.Of(checkpoints),
            GradY = TensorAddress.Of(gy), YBFloat16 = gy.dtype == ScalarType.BFloat16, GradLast = TensorAddress.Of(gLast), GradU = TensorAddress.Of(du),
            GradDelta = TensorAddress.Of(dDelta), GradZ = TensorAddress.Of(gradZ), GradAPartial = TensorAddress.Of(dAPartial),
            GradDPartial = TensorAddress.Of(dDPartial), GradH0 = TensorAddress.Of(dH0),
            GradBcPartial = TensorAddress.Of(dBcPartial),
        };
        if (u.dtype == ScalarType.Float64) MixerKernel<double>.ScanBackward(buffers, tasksPerBatch);
        else MixerKernel<float>.ScanBackward(buffers, tasksPerBatch);
        Tensor dXDbl = tasksPerBatch == 1 ? dBcPartial.squeeze(1) : dBcPartial.sum(dim: 1);   // (b, l, r+2n)
        return new ScanGradients(du, dDelta, FusedConvFunction.SumBatch(dAPartial), dXDbl, FusedConvFunction.SumBatch(dDPartial), dH0);
    }

    internal static Tensor? Defined(Tensor? t) => t is null || t.IsInvalid ? null : t;

    static MixerBuffers Buffers(Tensor u, Tensor delta, Tensor A, Tensor xDbl, Tensor? D, Tensor? xz, Tensor? deltaBias, Tensor? h0, long dtRank, bool softplus, bool aLog)
    {
        long states = A.shape[1];
        return new MixerBuffers
        {
            Batch = u.shape[0], Length = u.shape[1], Channels = u.shape[2], States = states,
            ChunkLength = SelectiveScan.FusedCheckpointInterval, Softplus = softplus,
            XzStride = xz?.shape[2] ?? 0, BcStride = xDbl.shape[2], BOffset = dtRank,
            U = TensorAddress.Of(u), Delta = TensorAddress.Of(delta), DeltaBFloat16 = delta.dtype == ScalarType.BFloat16, A = TensorAddress.Of(A), ALog = aLog, Bc = TensorAddress.Of(xDbl),
            D = TensorAddress.Of(D), Xz = TensorAddress.Of(xz), XzBFloat16 = xz?.dtype == ScalarType.BFloat16, DeltaBias = TensorAddress.Of(deltaBias), H0 = TensorAddress.Of(h0),
        };
    }
}
