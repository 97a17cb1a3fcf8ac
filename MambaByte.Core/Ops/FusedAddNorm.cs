using MambaByte.Core.Ops.Kernels;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Core.Ops;

/// <summary>
/// The residual add and RMSNorm of a pre-norm block in one CPU pass each way (<see cref="AddRmsNormFunction"/>), as
/// mamba_ssm fuses them (<c>layer_norm_fn(…, residual=…, prenorm=True, residual_in_fp32=True)</c>): s = x + residual in
/// the norm's dtype (float32 or float64), y = RMSNorm(s) written straight in the dtype of the layer that reads it
/// (bfloat16 under mixed precision, saving a cast each way). The same numbers as the tensor-op composition
/// <c>norm((x + residual).to(norm dtype)).to(out dtype)</c> up to the order of the sum over a row.
/// </summary>
public static class FusedAddNorm
{
    /// <summary>
    /// Whether <see cref="Apply"/> runs these operands: CPU tensors, a float32 or float64 norm weight that is also the
    /// dtype of the residual stream, x in that dtype or bfloat16 (with float32), the output in that dtype or bfloat16.
    /// </summary>
    public static bool Supports(Tensor x, Tensor? residual, Tensor weight, ScalarType sumDtype, ScalarType outDtype)
    {
        ScalarType compute = weight.dtype;
        if (compute is not (ScalarType.Float32 or ScalarType.Float64) || sumDtype != compute) return false;
        if (x.device.type != DeviceType.CPU || weight.device.type != DeviceType.CPU || x.dim() < 2) return false;
        if (residual is not null && (residual.dtype != compute || residual.device.type != DeviceType.CPU || !residual.shape.SequenceEqual(x.shape))) return false;
        bool bf16Allowed = compute == ScalarType.Float32;
        return (x.dtype == compute || (bf16Allowed && x.dtype == ScalarType.BFloat16))
            && (outDtype == compute || (bf16Allowed && outDtype == ScalarType.BFloat16));
    }

    /// <summary>
    /// x (…, d), residual (…, d)? (null: s = x), weight (d) → y = s·rstd·w in <paramref name="outDtype"/> and, when
    /// <paramref name="keepSum"/>, s in the weight's dtype (the new residual stream); gradients flow into x, the
    /// residual and the weight. Call only where <see cref="Supports"/> says so.
    /// </summary>
    public static (Tensor Normed, Tensor? Sum) Apply(Tensor x, Tensor? residual, Tensor weight, double eps, ScalarType outDtype, bool keepSum)
    {
        if (!Supports(x, residual, weight, weight.dtype, outDtype))
            throw new ArgumentException($"bug: fused add+norm called on unsupported operands (x {x.dtype}, residual {residual?.dtype}, weight {weight.dtype}, out {outDtype})");
        using var scope = NewDisposeScope();
        long d = x.shape[^1];
        object?[] args =
        [
            x.reshape(-1, d).contiguous(), residual?.reshape(-1, d).contiguous(), weight.contiguous(), eps, (long)outDtype, keepSum,
        ];
        List<Tensor> outputs = AddRmsNormFunction.apply(args!);
        Tensor normed = outputs[0].view(x.shape).MoveToOuterDisposeScope();
        Tensor? sum = keepSum ? outputs[1].view(x.shape).MoveToOuterDisposeScope() : null;
        return (normed, sum);
    }
}
