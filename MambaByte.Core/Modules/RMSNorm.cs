using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MambaByte.Core.Modules;

/// <summary>
/// Root-mean-square norm as <c>rms_norm_ref</c> in <c>mamba_ssm/ops/triton/layer_norm.py</c>: computed in
/// float32 at least (float64 stays float64), y = x / sqrt(mean(x²) + eps) · weight, returned in x's dtype.
/// </summary>
public sealed class RMSNorm : nn.Module<Tensor, Tensor>
{
    readonly double eps;
#pragma warning disable IDE1006 // state_dict names follow the reference
    readonly Parameter weight;
#pragma warning restore IDE1006

    public RMSNorm(long size, double eps = 1e-5) : base(nameof(RMSNorm))
    {
        this.eps = eps;
        weight = new Parameter(ones(size));
        RegisterComponents();
    }

    public Parameter Weight => weight;

    public double Eps => eps;

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        ScalarType compute = x.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32;
        Tensor xc = x.to_type(compute);
        Tensor rstd = (xc.square().mean([-1], keepdim: true) + eps).rsqrt();
        Tensor y = xc * rstd * weight.to_type(compute);
        return y.to_type(x.dtype).MoveToOuterDisposeScope();
    }
}
