using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MambaByte.Core.Modules.Attention;

/// <summary>
/// Multi-head causal self-attention with rotary positions through <c>scaled_dot_product_attention</c>.
/// Without a cache the positions are 0 … l−1; with a cache they continue from <see cref="KvCache.Length"/>
/// and the new keys and values are appended to it.
/// </summary>
public sealed class CausalSelfAttention : nn.Module
{
    private readonly int headCount;
    private readonly int headDim;
    private readonly double ropeTheta;
    private readonly double dropout;
    private readonly Linear qkv_proj;
    private readonly Linear out_proj;

    public CausalSelfAttention(int width, int headCount, double ropeTheta, double dropout, string name = "attn") : base(name)
    {
        if (width % headCount != 0) throw new ArgumentException($"width {width} is not divisible by {headCount} heads");
        this.headCount = headCount;
        headDim = width / headCount;
        this.ropeTheta = ropeTheta;
        this.dropout = dropout;
        qkv_proj = nn.Linear(width, 3 * width, hasBias: false);
        out_proj = nn.Linear(width, width, hasBias: false);
        RegisterComponents();
    }

    /// <summary><paramref name="x"/> (b, l, width) → (b, l, width).</summary>
    public Tensor Forward(Tensor x, KvCache? cache)
    {
        using var scope = NewDisposeScope();
        long batch = x.shape[0], length = x.shape[1], width = x.shape[2];
        long past = cache?.Length ?? 0;
        Tensor[] qkv = qkv_proj.forward(x).view(batch, length, 3, headCount, headDim).unbind(2);      // 3 × (b, l, h, hd)
        var (cos, sin) = RotaryEmbedding.Angles(past, length, headDim, ropeTheta, x.device, x.dtype);
        Tensor q = RotaryEmbedding.Apply(qkv[0].transpose(1, 2), cos, sin);                             // (b, h, l, hd)
        Tensor k = RotaryEmbedding.Apply(qkv[1].transpose(1, 2), cos, sin);                             // (b, h, l, hd)
        Tensor v = qkv[2].transpose(1, 2);                                                              // (b, h, l, hd)
        double p = training ? dropout : 0.0;

        Tensor y;
        if (cache is null)
        {
            y = nn.functional.scaled_dot_product_attention(q, k, v, p: p, is_casual: true);          // (b, h, l, hd)
        }
        else
        {
            var (allKeys, allValues) = cache.Append(k, v);                                              // (b, h, past+l, hd)
            if (past == 0)
                y = nn.functional.scaled_dot_product_attention(q, k, v, p: p, is_casual: true);
            else if (length == 1)
                y = nn.functional.scaled_dot_product_attention(q, allKeys, allValues, p: p);
            else
            {
                // Query i sits at position past+i and sees keys 0 … past+i (is_casual would align top-left).
                Tensor keyPositions = arange(past + length, device: x.device).unsqueeze(0);             // (1, past+l)
                Tensor queryPositions = arange(past, past + length, device: x.device).unsqueeze(1);     // (l, 1)
                Tensor mask = keyPositions <= queryPositions;                                           // (l, past+l)
                y = nn.functional.scaled_dot_product_attention(q, allKeys, allValues, mask, p);
            }
        }
        Tensor merged = y.transpose(1, 2).reshape(batch, length, width);                                // (b, l, width)
        return out_proj.forward(merged).MoveToOuterDisposeScope();
    }
}
