using System.Runtime.Intrinsics;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// Custom autograd node around <see cref="SelectiveScanKernel{T}"/>. Inputs (in this order): u, delta, A, B, C, D?,
/// z?, deltaBias?, h₀?, softplus (bool), keepCheckpoints (bool); all tensors already in the compute dtype on the CPU.
/// Outputs: y (b, d, l) and the last state (b, d, n). Saved for backward: the inputs (B, C transposed and A, h₀
/// padded, which are small) plus states every <see cref="SelectiveScan.FusedCheckpointInterval"/> steps,
/// (b, d, ⌈l/K⌉, n); never a (b, d, l, n) tensor.
/// </summary>
internal sealed unsafe class FusedScanFunction : autograd.MultiTensorFunction<FusedScanFunction>
{
    public override string Name => nameof(FusedScanFunction);

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var u = (Tensor)vars[0];
        var delta = (Tensor)vars[1];
        var A = (Tensor)vars[2];
        var B = (Tensor)vars[3];
        var C = (Tensor)vars[4];
        Tensor? D = vars[5] as Tensor, z = vars[6] as Tensor, deltaBias = vars[7] as Tensor, h0 = vars[8] as Tensor;
        bool softplus = (bool)vars[9], keepCheckpoints = (bool)vars[10];

        long batch = u.shape[0], channels = u.shape[1], length = u.shape[2], states = A.shape[1];
        long padded = PaddedStates(u.dtype, states), k = SelectiveScan.FusedCheckpointInterval;
        long chunks = (length + k - 1) / k;
        Tensor uc = u.contiguous(), dc = delta.contiguous();
        Tensor ap = PadStates(A, padded);                                                  // (d, np)
        Tensor bt = PadStates(B.transpose(1, 2), padded);                                  // (b, l, np)
        Tensor ct = PadStates(C.transpose(1, 2), padded);                                  // (b, l, np)
        Tensor? Dc = D?.contiguous(), zc = z?.contiguous(), biasc = deltaBias?.contiguous();
        Tensor? h0p = h0 is null ? null : PadStates(h0, padded);                           // (b, d, np)

        Tensor y = empty_like(uc);                                                         // (b, d, l)
        Tensor last = empty(batch, channels, padded, dtype: u.dtype);                     // (b, d, np)
        Tensor? checkpoints = keepCheckpoints ? empty(batch, channels, chunks, padded, dtype: u.dtype) : null;
        var buffers = new ScanBuffers
        {
            Batch = batch, Channels = channels, Length = length, PaddedStates = padded, ChunkLength = k, Chunks = chunks,
            Softplus = softplus,
            U = TensorAddress.Of(uc), Delta = TensorAddress.Of(dc), A = TensorAddress.Of(ap), Bt = TensorAddress.Of(bt), Ct = TensorAddress.Of(ct),
            D = TensorAddress.Of(Dc), Z = TensorAddress.Of(zc), DeltaBias = TensorAddress.Of(biasc), H0 = TensorAddress.Of(h0p),
            Y = TensorAddress.Of(y), Last = TensorAddress.Of(last), Checkpoints = TensorAddress.Of(checkpoints),
        };
        if (u.dtype == ScalarType.Float64) SelectiveScanKernel<double>.Forward(buffers);
        else SelectiveScanKernel<float>.Forward(buffers);

        if (keepCheckpoints)
        {
            // Undefined output gradients arrive as invalid tensors instead of zeros materialised from a cache
            // that the caller's dispose scope may already have freed.
            ctx.set_materialize_grads(false);
            ctx.save_for_backward([uc, dc, ap, bt, ct, Dc!, zc!, biasc!, h0p!, checkpoints!]);
            ctx.save_data("softplus", softplus);
            ctx.save_data("states", states);
        }
        return [y, last[.., .., ..(int)states].contiguous()];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
    {
        using var scope = NewDisposeScope();
        List<Tensor> saved = ctx.get_saved_variables();
        Tensor u = saved[0], delta = saved[1], ap = saved[2], bt = saved[3], ct = saved[4];
        Tensor? D = saved[5], z = saved[6], deltaBias = saved[7], h0 = saved[8];
        Tensor checkpoints = saved[9] ?? throw new InvalidOperationException("FusedCpu scan: backward called without saved checkpoints");
        bool softplus = (bool)ctx.get_data("softplus");
        long states = (long)ctx.get_data("states");

        long batch = u.shape[0], channels = u.shape[1], length = u.shape[2], padded = ap.shape[1];
        long k = SelectiveScan.FusedCheckpointInterval, chunks = checkpoints.shape[2];
        Tensor gy = Defined(gradOutputs[0]) is { } g ? g.to_type(u.dtype).contiguous() : zeros_like(u);     // (b, d, l)
        Tensor? glast = Defined(gradOutputs[1]) is { } gl ? PadStates(gl.to_type(u.dtype), padded) : null; // (b, d, np)

        int tasksPerBatch = (int)Math.Clamp((4L * Environment.ProcessorCount + batch - 1) / batch, 1, Math.Max(1, channels));
        Tensor du = empty_like(u), ddelta = empty_like(u);
        Tensor? dz = z is null ? null : empty_like(u);
        Tensor dAPartial = empty(batch, channels, padded, dtype: u.dtype);               // (b, d, np)
        Tensor dDPartial = empty(batch, channels, dtype: u.dtype);                        // (b, d)
        Tensor dh0 = empty(batch, channels, padded, dtype: u.dtype);                      // (b, d, np)
        Tensor dBtPartial = zeros(batch, tasksPerBatch, length, padded, dtype: u.dtype);  // (b, tasks, l, np)
        Tensor dCtPartial = zeros(batch, tasksPerBatch, length, padded, dtype: u.dtype);  // (b, tasks, l, np)
        var buffers = new ScanBuffers
        {
            Batch = batch, Channels = channels, Length = length, PaddedStates = padded, ChunkLength = k, Chunks = chunks,
            Softplus = softplus,
            U = TensorAddress.Of(u), Delta = TensorAddress.Of(delta), A = TensorAddress.Of(ap), Bt = TensorAddress.Of(bt), Ct = TensorAddress.Of(ct),
            D = TensorAddress.Of(D), Z = TensorAddress.Of(z), DeltaBias = TensorAddress.Of(deltaBias), H0 = TensorAddress.Of(h0), Checkpoints = TensorAddress.Of(checkpoints),
            GradY = TensorAddress.Of(gy), GradLast = TensorAddress.Of(glast), GradU = TensorAddress.Of(du), GradDelta = TensorAddress.Of(ddelta), GradZ = TensorAddress.Of(dz),
            GradAPartial = TensorAddress.Of(dAPartial), GradDPartial = TensorAddress.Of(dDPartial), GradH0 = TensorAddress.Of(dh0),
            DBtPartial = TensorAddress.Of(dBtPartial), DCtPartial = TensorAddress.Of(dCtPartial),
        };
        if (u.dtype == ScalarType.Float64) SelectiveScanKernel<double>.Backward(buffers, tasksPerBatch);
        else SelectiveScanKernel<float>.Backward(buffers, tasksPerBatch);

        Tensor dA = dAPartial.sum(dim: 0)[.., ..(int)states];                                            // (d, n)
        Tensor dB = dBtPartial.sum(dim: 1)[.., .., ..(int)states].transpose(1, 2).contiguous();          // (b, n, l)
        Tensor dC = dCtPartial.sum(dim: 1)[.., .., ..(int)states].transpose(1, 2).contiguous();          // (b, n, l)
        Tensor? dD = D is null ? null : dDPartial.sum(dim: 0);                                           // (d)
        Tensor? dBias = deltaBias is null ? null : ddelta.sum([0, 2]);                              // (d)
        Tensor? dH0 = h0 is null ? null : dh0[.., .., ..(int)states];                               // (b, d, n)

        Tensor?[] grads = [du, ddelta, dA, dB, dC, dD, dz, dBias, dH0, null, null];
        return grads.Select(g => g?.contiguous().MoveToOuterDisposeScope()!).ToList();
    }

    static Tensor? Defined(Tensor? t) => t is null || t.IsInvalid ? null : t;

    /// <summary>d_state rounded up to a whole number of SIMD vectors of the dtype.</summary>
    public static long PaddedStates(ScalarType dtype, long states) =>
        dtype == ScalarType.Float64 ? SelectiveScanKernel<double>.PaddedStates(states) : SelectiveScanKernel<float>.PaddedStates(states);

    /// <summary>Zero-pads the last dimension to <paramref name="padded"/> and makes the result contiguous.</summary>
    static Tensor PadStates(Tensor t, long padded)
    {
        long extra = padded - t.shape[^1];
        return (extra == 0 ? t : nn.functional.pad(t, [0, extra])).contiguous();
    }
}
