using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Core.Modules.Attention;

/// <summary>Pre-norm decoder block: x + attn(norm(x)), then + mlp(norm(x)); dropout on both residual branches.</summary>
public sealed class TransformerBlock : nn.Module
{
    private readonly double dropout;
    private readonly RMSNorm attn_norm;
    private readonly CausalSelfAttention attn;
    private readonly RMSNorm mlp_norm;
    private readonly SwiGluMlp mlp;

    /// <param name="attentionWindow">Keys each position attends to, itself included; null (the default) means all earlier positions.</param>
    public TransformerBlock(int width, int headCount, int mlpHidden, double ropeTheta, double normEpsilon, double dropout, string name = "block",
        int? attentionWindow = null)
        : base(name)
    {
        this.dropout = dropout;
        attn_norm = new RMSNorm(width, normEpsilon);
        attn = new CausalSelfAttention(width, headCount, ropeTheta, dropout, window: attentionWindow);
        mlp_norm = new RMSNorm(width, normEpsilon);
        mlp = new SwiGluMlp(width, mlpHidden);
        RegisterComponents();
    }

    /// <summary><paramref name="x"/> (b, l, width) → (b, l, width).</summary>
    public Tensor Forward(Tensor x, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        double p = training ? dropout : 0.0;
        Tensor h = x + nn.functional.dropout(attn.Forward(attn_norm.forward(x), cache), p, training);
        h = h + nn.functional.dropout(mlp.forward(mlp_norm.forward(h)), p, training);
        return h.MoveToOuterDisposeScope();
    }
}
