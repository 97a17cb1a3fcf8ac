using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>
/// Custom autograd node around <see cref="MixerKernel{T}.ConvForward"/>: the mixer's causal depthwise conv + SiLU read
/// straight from in_proj's output. Inputs: xz (b, l, 2e) contiguous (x is its first half), conv1d's weight (e, 1, k),
/// bias (e)?, left context (b, k−1, e)? (the carried conv state; zeros when absent). Output xc (b, l, e).
/// Saved for backward: the inputs only (the pre-activation is recomputed).
/// </summary>
internal sealed class FusedConvFunction : autograd.SingleTensorFunction<FusedConvFunction>
{
    public override string Name => nameof(FusedConvFunction);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        var xz = (Tensor)vars[0];
        var weight = (Tensor)vars[1];
        Tensor? bias = vars[2] as Tensor, left = vars[3] as Tensor;
        Tensor output = RunForward(xz, weight, bias, left);
        ctx.save_for_backward([xz, weight, bias!, left!]);
        return output;
    }

    /// <summary>The conv kernel on ready (contiguous, kernel-dtype) tensors: returns xc (b, l, e).</summary>
    internal static Tensor RunForward(Tensor xz, Tensor weight, Tensor? bias, Tensor? left)
    {
        Tensor output = empty(xz.shape[0], xz.shape[1], weight.shape[0], dtype: weight.dtype); // (b, l, e)
        var buffers = Buffers(xz, weight, bias, left) with { ConvOut = TensorAddress.Of(output) };
        if (weight.dtype == ScalarType.Float64) MixerKernel<double>.ConvForward(buffers);
        else MixerKernel<float>.ConvForward(buffers);
        return output;
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad)
    {
        using var scope = NewDisposeScope();
        List<Tensor> saved = ctx.get_saved_variables();
        Tensor xz = saved[0], weight = saved[1];
        Tensor? bias = saved[2], left = saved[3];
        Tensor gXz = empty_like(xz);                                                          // (b, l, 2e): the kernel writes ∂L/∂x and zeros the z half
        Tensor? gLeft = left is null ? null : empty_like(left);                               // (b, k-1, e), written whole
        var (gWeight, gBias) = RunBackward(xz, weight, bias, left, grad.to_type(xz.dtype).contiguous(), gXz, gXzHoldsZ: false, gLeft);
        Tensor?[] grads = [gXz, gWeight, gBias, gLeft];
        return grads.Select(g => g?.MoveToOuterDisposeScope()!).ToList();
    }

    /// <summary>
    /// The conv kernel's backward on ready tensors: ∂L/∂x into the x half of <paramref name="gXz"/> (b, l, 2e) (its z
    /// half zeroed, or left as it is when <paramref name="gXzHoldsZ"/>), the left context's gradient into
    /// <paramref name="gLeft"/> when given; returns the weight's (e, 1, k) and the bias's (e)? gradients.
    /// </summary>
    internal static (Tensor GradWeight, Tensor? GradBias) RunBackward(
        Tensor xz, Tensor weight, Tensor? bias, Tensor? left, Tensor gOut, Tensor gXz, bool gXzHoldsZ, Tensor? gLeft)
    {
        long batch = xz.shape[0], channels = weight.shape[0], kernel = weight.shape[2];
        Tensor gWeightPartial = empty(batch, channels, 1, kernel, dtype: weight.dtype);       // (b, e, 1, k)
        Tensor gBiasPartial = empty(batch, channels, dtype: weight.dtype);                    // (b, e)
        var buffers = Buffers(xz, weight, bias, left) with
        {
            GradConvOut = TensorAddress.Of(gOut), GradXz = TensorAddress.Of(gXz), GradXzHoldsZ = gXzHoldsZ, GradLeft = TensorAddress.Of(gLeft),
            GradConvWeightPartial = TensorAddress.Of(gWeightPartial), GradConvBiasPartial = TensorAddress.Of(gBiasPartial),
        };
        if (weight.dtype == ScalarType.Float64) MixerKernel<double>.ConvBackward(buffers);
        else MixerKernel<float>.ConvBackward(buffers);
        return (SumBatch(gWeightPartial), bias is null ? null : SumBatch(gBiasPartial));
    }

    /// <summary>Σ over the batch rows of a per-row partial (no reduction for one row).</summary>
    internal static Tensor SumBatch(Tensor partial) => partial.shape[0] == 1 ? partial.squeeze(0) : partial.sum(dim: 0);

    static MixerBuffers Buffers(Tensor xz, Tensor weight, Tensor? bias, Tensor? left) => new()
    {
        Batch = xz.shape[0], Length = xz.shape[1], Channels = weight.shape[0], Kernel = weight.shape[2], XzStride = xz.shape[2],
        Xz = TensorAddress.Of(xz), XzBFloat16 = xz.dtype == ScalarType.BFloat16, ConvWeight = TensorAddress.Of(weight), ConvBias = TensorAddress.Of(bias), Left = TensorAddress.Of(left),
    };
}
