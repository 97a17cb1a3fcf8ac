using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// Custom autograd node around <see cref="AddRmsNormKernel{T}"/>: one pass forward, one pass backward, where the
/// tensor-op norm runs about a dozen libtorch ops each way (square, mean, rsqrt, two products and their broadcast
/// reductions, the add and the dtype casts). Inputs (in this order): x (rows, d) in the compute dtype or bfloat16,
/// residual (rows, d)? in the compute dtype, weight (d) in the compute dtype, eps (double), the output's dtype (the
/// compute dtype or bfloat16, as a long), keepSum (bool: also return s = x + residual). Outputs: y (rows, d) and, when
/// keepSum, s (rows, d) in the compute dtype. Saved for backward: x, residual, weight and rstd per row (s is recomputed).
/// </summary>
internal sealed class AddRmsNormFunction : autograd.MultiTensorFunction<AddRmsNormFunction>
{
    public override string Name => nameof(AddRmsNormFunction);

    public override List<Tensor> forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var x = (Tensor)vars[0];
        var residual = vars[1] as Tensor;
        var weight = (Tensor)vars[2];
        double eps = (double)vars[3];
        var outDtype = (ScalarType)(long)vars[4];
        bool keepSum = (bool)vars[5];

        ScalarType compute = weight.dtype;
        long rows = x.shape[0], d = x.shape[1];
        Tensor y = empty(rows, d, dtype: outDtype);
        Tensor? sum = keepSum ? empty(rows, d, dtype: compute) : null;
        Tensor rstd = empty(rows, dtype: compute);
        var args = Rows(x, residual, weight, outDtype, rstd) with { Eps = eps, Sum = TensorAddress.Of(sum), Output = TensorAddress.Of(y) };
        if (compute == ScalarType.Float64) AddRmsNormKernel<double>.Forward(args);
        else AddRmsNormKernel<float>.Forward(args);

        ctx.set_materialize_grads(false);
        ctx.save_for_backward([x, residual!, weight, rstd]);
        ctx.save_data("outDtype", (long)outDtype);
        return sum is null ? [y] : [y, sum];
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, List<Tensor> gradOutputs)
    {
        using var scope = NewDisposeScope();
        List<Tensor> saved = ctx.get_saved_variables();
        Tensor x = saved[0], weight = saved[2], rstd = saved[3];
        Tensor? residual = FusedMixerScanFunction.Defined(saved[1]);
        var outDtype = (ScalarType)(long)ctx.get_data("outDtype");
        Tensor? gy = FusedMixerScanFunction.Defined(gradOutputs[0])?.to_type(outDtype).contiguous();
        Tensor? gSum = gradOutputs.Count > 1 ? FusedMixerScanFunction.Defined(gradOutputs[1])?.to_type(weight.dtype).contiguous() : null;

        ScalarType compute = weight.dtype;
        long rows = x.shape[0], d = x.shape[1];
        int tasks = compute == ScalarType.Float64 ? AddRmsNormKernel<double>.Tasks(rows, (int)d) : AddRmsNormKernel<float>.Tasks(rows, (int)d);
        Tensor gx = empty_like(x);
        Tensor? gResidual = residual is null ? null : empty_like(residual);
        Tensor gWeightPartial = empty(tasks, d, dtype: compute);
        var args = Rows(x, residual, weight, outDtype, rstd) with
        {
            GradOutput = TensorAddress.Of(gy), GradSum = TensorAddress.Of(gSum), GradInput = TensorAddress.Of(gx),
            GradResidual = TensorAddress.Of(gResidual), GradWeightPartial = TensorAddress.Of(gWeightPartial),
        };
        if (compute == ScalarType.Float64) AddRmsNormKernel<double>.Backward(args, tasks);
        else AddRmsNormKernel<float>.Backward(args, tasks);
        Tensor? gWeight = gy is null ? null : FusedConvFunction.SumBatch(gWeightPartial);
        Tensor?[] grads = [gx, gResidual, gWeight, null, null, null];
        return grads.Select(g => g?.MoveToOuterDisposeScope()!).ToList();
    }

    // What forward and backward both hand the kernel: the operands, the dtypes of x and y, rstd.
    static AddRmsNormRows Rows(Tensor x, Tensor? residual, Tensor weight, ScalarType outDtype, Tensor rstd) => new()
    {
        Count = x.shape[0], Width = (int)x.shape[1],
        Input = TensorAddress.Of(x), InputBFloat16 = x.dtype == ScalarType.BFloat16, Residual = TensorAddress.Of(residual),
        Weight = TensorAddress.Of(weight), OutputBFloat16 = outDtype == ScalarType.BFloat16, Rstd = TensorAddress.Of(rstd),
    };
}
