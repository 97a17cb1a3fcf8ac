using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MambaByte.Core.Modules.Attention;

/// <summary>RMSNorm (Zhang &amp; Sennrich 2019): x / sqrt(mean(x²) + ε) · weight, over the last dimension.</summary>
public sealed class RmsNorm : nn.Module<Tensor, Tensor>
{
    private readonly double epsilon;
    private readonly Parameter weight;

    public RmsNorm(long width, double epsilon, string name = "norm") : base(name)
    {
        this.epsilon = epsilon;
        weight = nn.Parameter(ones(width));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        Tensor y = x * (x.pow(2).mean([-1L], keepdim: true) + epsilon).rsqrt() * weight;
        return y.MoveToOuterDisposeScope();
    }
}
