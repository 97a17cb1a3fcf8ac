using MambaByte.Core.Native;
using static MambaByte.Core.Ops.FusedMixer;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// A whole Mamba mixer layer as one custom autograd node, as mamba_ssm's <c>MambaInnerFn</c> does it on the GPU (which
/// leaves only in_proj outside): in_proj, the causal conv + SiLU (<see cref="MixerKernel{T}.ConvForward"/>), x_proj,
/// dt_proj, the gated selective scan (<see cref="MixerKernel{T}.ScanForward"/>) and out_proj, with a backward that
/// runs the two kernels' backwards and the eight products of the four projections' gradients itself. Against the
/// composition of <see cref="FusedConvFunction"/>, <see cref="FusedMixerScanFunction"/> and four libtorch linears
/// it saves the autograd graph (a dozen nodes and their bookkeeping per layer) and runs each small product on the
/// calling thread (<see cref="SerialProducts"/>); at d_model 96 that is most of a layer's time. The numbers are those
/// of the composition: the same products in the same dtype, the same kernels, the same roundings; under bf16 mixed
/// precision the kernels read xz, Δ and ∂L/∂y in bf16 and write y and ∂L/∂xz in bf16 themselves (mamba_ssm's kernels
/// read bf16 and compute in float32 the same way), which saves a cast pass over each of those tensors.
/// Inputs (in this order): hidden (b, l, d) in the projections' dtype, in_proj.weight (2e, d), in_proj.bias (2e)?,
/// conv1d.weight (e, 1, k), conv1d.bias (e)?, x_proj.weight (r + 2n, e), dt_proj.weight (e, r), dt_proj.bias (e),
/// A_log (e, n), D (e), out_proj.weight (d, e), out_proj.bias (d)?, dt_rank (long), keepForBackward (bool). Output
/// (b, l, d) in the projections' dtype. No carried state (the composition handles that). Saved for backward: xz,
/// the conv output, Δ, x_proj's output and the scan output (as the composition's nodes save them) and the scan's
/// state every <see cref="SelectiveScan.FusedCheckpointInterval"/> steps.
/// </summary>
internal sealed class FusedMixerFunction : autograd.SingleTensorFunction<FusedMixerFunction>
{
    public override string Name => nameof(FusedMixerFunction);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        using var noGrad = no_grad();
        var hidden = (Tensor)vars[0];
        var inW = (Tensor)vars[1];
        var inB = vars[2] as Tensor;
        var convW = (Tensor)vars[3];
        var convB = vars[4] as Tensor;
        var xW = (Tensor)vars[5];
        var dtW = (Tensor)vars[6];
        var dtB = (Tensor)vars[7];
        var aLog = (Tensor)vars[8];
        var d = (Tensor)vars[9];
        var outW = (Tensor)vars[10];
        var outB = vars[11] as Tensor;
        long dtRank = (long)vars[12];
        bool keep = (bool)vars[13];

        ScalarType compute = SelectiveScan.ComputeType(hidden.dtype);
        ScalarType io = InputOutput(hidden.dtype, compute);
        Tensor convWc = Ready(convW, compute), dtBc = Ready(dtB, compute), aLogC = Ready(aLog, compute), dC = Ready(d, compute);
        Tensor? convBc = convB is null ? null : Ready(convB, compute);

        Tensor xz = Ready(SerialProducts.Linear(hidden, inW, inB), io);                       // (b, l, 2e), read by both kernels as it is
        Tensor xc = FusedConvFunction.RunForward(xz, convWc, convBc, null);                   // (b, l, e)

        Tensor xcP = xc.to_type(hidden.dtype);                                               // x_proj's input, in its dtype
        Tensor xDbl = SerialProducts.Linear(xcP, xW, null);                                   // (b, l, r + 2n)
        Tensor xDblC = Ready(xDbl, compute);
        Tensor delta = Ready(SerialProducts.Linear(xDbl.narrow(-1, 0, dtRank), dtW, null), io); // (b, l, e), bias in the scan

        var (y, _, checkpoints) = FusedMixerScanFunction.RunForward(xc, delta, aLogC, xDblC, dC, xz, dtBc, null, dtRank, softplus: true, aLog: true, keep, yDtype: io);

        Tensor yP = y.to_type(hidden.dtype);                                                 // out_proj's input
        Tensor output = SerialProducts.Linear(yP, outW, outB);                               // (b, l, d)
        if (keep)
        {
            ctx.save_for_backward([hidden, inW, inB!, convWc, convBc!, xW, dtW, dtBc, aLogC, dC, outW, outB!, xz, xc, xcP, xDbl, xDblC, delta, yP, checkpoints!]);
            ctx.save_data("dtRank", dtRank);
            ctx.save_data("dtypes", new[] { convW.dtype, convB?.dtype ?? compute, dtB.dtype, aLog.dtype, d.dtype });   // the kernels' parameters, for their gradients
        }
        return output;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        List<Tensor> s = ctx.get_saved_variables();
        Tensor hidden = s[0], inW = s[1], convWc = s[3], xW = s[5], dtW = s[6], dtBc = s[7], aLogC = s[8], dC = s[9], outW = s[10];
        Tensor? inB = FusedMixerScanFunction.Defined(s[2]), convBc = FusedMixerScanFunction.Defined(s[4]), outB = FusedMixerScanFunction.Defined(s[11]);
        Tensor xz = s[12], xc = s[13], xcP = s[14], xDbl = s[15], xDblC = s[16], delta = s[17], yP = s[18];
        Tensor checkpoints = FusedMixerScanFunction.Defined(s[19]) ?? throw new InvalidOperationException("bug: fused mixer backward called without saved checkpoints");
        long dtRank = (long)ctx.get_data("dtRank");
        var dtypes = (ScalarType[])ctx.get_data("dtypes");

        ScalarType mm = hidden.dtype, compute = xc.dtype, io = xz.dtype;                     // as the forward chose
        long batch = xc.shape[0], length = xc.shape[1], channels = xc.shape[2], rows = batch * length;
        long dModel = hidden.shape[2], xWidth = xDbl.shape[2];

        // out_proj: ∂L/∂W_out = gᵀ·y, ∂L/∂y = g·W_out
        Tensor g = grad.to_type(mm).contiguous().view(rows, dModel);
        Tensor gOutW = SerialProducts.Mm(g.t(), yP.view(rows, channels));
        Tensor? gOutB = outB is null ? null : g.sum(dim: 0);
        Tensor gy = Ready(SerialProducts.Mm(g, outW), io).view(batch, length, channels);

        // the scan: ∂L/∂u, ∂L/∂Δ, ∂L/∂z (into the z half of gXz), ∂L/∂A_log, ∂L/∂D, ∂L/∂B and ∂L/∂C
        Tensor gXz = empty_like(xz);                                                          // z half from the scan, x half from the conv, in xz's dtype
        var scan = FusedMixerScanFunction.RunBackward(xc, delta, aLogC, xDblC, dC, xz, dtBc, null, dtRank, softplus: true, aLog: true,
            checkpoints, gy, gLast: null, gradZ: gXz);
        Tensor du = scan.U, dDelta = scan.Delta, gXDbl = scan.XDbl;                         // gXDbl (b, l, r + 2n): the first r columns 0

        // dt_proj (its bias is the scan's Δ bias): ∂L/∂W_dt = ∂Δᵀ·dtLow, ∂L/∂dtLow = ∂Δ·W_dt into x_proj's first r columns
        Tensor gDelta = dDelta.to_type(mm).view(rows, channels);
        Tensor gDtW = SerialProducts.Mm(gDelta.t(), xDbl.view(rows, xWidth).narrow(1, 0, dtRank));
        Tensor gDtB = dDelta.sum([0, 1]);
        gXDbl.narrow(-1, 0, dtRank).copy_(SerialProducts.Mm(gDelta, dtW).view(batch, length, dtRank));

        // x_proj: ∂L/∂W_x = ∂xDblᵀ·xc, ∂L/∂xc += ∂xDbl·W_x
        Tensor gXDblP = gXDbl.to_type(mm).view(rows, xWidth);
        Tensor gXW = SerialProducts.Mm(gXDblP.t(), xcP.view(rows, channels));
        du.add_(SerialProducts.Mm(gXDblP, xW).view(batch, length, channels).to_type(compute));

        // the conv: ∂L/∂x into the x half of gXz, ∂L/∂conv weight and bias
        var (gConvW, gConvB) = FusedConvFunction.RunBackward(xz, convWc, convBc, null, du, gXz, gXzHoldsZ: true, gLeft: null);

        // in_proj: ∂L/∂W_in = ∂xzᵀ·hidden, ∂L/∂hidden = ∂xz·W_in
        Tensor gXzP = gXz.to_type(mm).view(rows, 2 * channels);
        Tensor gInW = SerialProducts.Mm(gXzP.t(), hidden.contiguous().view(rows, dModel));
        Tensor? gInB = inB is null ? null : gXzP.sum(dim: 0);
        Tensor gHidden = SerialProducts.Mm(gXzP, inW).view(batch, length, dModel);

        Tensor?[] grads =
        [
            gHidden, gInW, gInB, gConvW.to_type(dtypes[0]), gConvB?.to_type(dtypes[1]), gXW, gDtW, gDtB.to_type(dtypes[2]),
            scan.A.to_type(dtypes[3]), scan.D.to_type(dtypes[4]), gOutW, gOutB, null, null,
        ];
        return grads.Select(t => t?.MoveToOuterDisposeScope()!).ToList();
    }

    /// <summary>
    /// The dtype of the tensors the kernels read and write straight from and to the projections (xz, Δ, y and their
    /// gradients): bfloat16 itself under bf16 mixed precision (exactly the values a cast to float32 would give, without
    /// the cast's pass over memory; y and the gradients rounded as the cast would round them), else the compute dtype.
    /// </summary>
    static ScalarType InputOutput(ScalarType projections, ScalarType compute) =>
        projections == ScalarType.BFloat16 && compute == ScalarType.Float32 && !CastBFloat16 ? ScalarType.BFloat16 : compute;

    /// <summary>On this thread, cast bf16 projections to float32 and back in separate passes, as before the kernels read bf16 (for tests and measurements).</summary>
    [ThreadStatic] internal static bool CastBFloat16;
}
