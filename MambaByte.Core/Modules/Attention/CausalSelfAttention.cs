using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MambaByte.Core.Modules.Attention;

/// <summary>
/// Multi-head causal self-attention with rotary positions through <c>scaled_dot_product_attention</c>.
/// Without a cache the positions are 0 … l−1; with a cache they continue from <see cref="KvCache.Length"/>
/// and the new keys and values are appended to it. With an attention window W (SpaceByte's local blocks) position
/// i attends only to positions i−W+1 … i, and a cache keeps only the positions a later query can still see.
/// </summary>
public sealed class CausalSelfAttention : nn.Module
{
    private readonly int headCount;
    private readonly int headDim;
    private readonly double ropeTheta;
    private readonly double dropout;
    private readonly int? window;
    private readonly Linear qkv_proj;
    private readonly Linear out_proj;

    /// <param name="window">Keys each query sees, itself included; null (the default) means every earlier position.</param>
    public CausalSelfAttention(int width, int headCount, double ropeTheta, double dropout, string name = "attn", int? window = null) : base(name)
    {
        if (width % headCount != 0) throw new ArgumentException($"width {width} is not divisible by {headCount} heads");
        if (window is < 1) throw new ArgumentException($"attention window must be positive, got {window}");
        this.window = window;
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
        long past = cache is null ? 0 : cache.Start + cache.Length;                                    // position of the first query
        Tensor[] qkv = qkv_proj.forward(x).view(batch, length, 3, headCount, headDim).unbind(2);      // 3 × (b, l, h, hd)
        var (cos, sin) = RotaryEmbedding.Angles(past, length, headDim, ropeTheta, x.device, x.dtype);
        Tensor q = RotaryEmbedding.Apply(qkv[0].transpose(1, 2), cos, sin);                             // (b, h, l, hd)
        Tensor k = RotaryEmbedding.Apply(qkv[1].transpose(1, 2), cos, sin);                             // (b, h, l, hd)
        Tensor v = qkv[2].transpose(1, 2);                                                              // (b, h, l, hd)
        double p = training ? dropout : 0.0;

        bool windowCovers = window is null || length <= window;                                         // no query reaches past the window

        Tensor y;
        if (cache is null)
        {
            y = windowCovers
                ? nn.functional.scaled_dot_product_attention(q, k, v, p: p, is_casual: true)          // (b, h, l, hd)
                : nn.functional.scaled_dot_product_attention(q, k, v, Visible(0, 0, length, x.device), p);
        }
        else
        {
            long first = cache.Start;                                                                   // position of the first held key
            var (allKeys, allValues) = cache.Append(k, v);                                              // (b, h, past−first+l, hd)
            if (past == 0 && windowCovers)
                y = nn.functional.scaled_dot_product_attention(q, k, v, p: p, is_casual: true);
            else if (length == 1)
            {
                long keys = Math.Min(allKeys.shape[2], window ?? long.MaxValue);                        // the last W keys
                y = nn.functional.scaled_dot_product_attention(q, allKeys.narrow(2, allKeys.shape[2] - keys, keys),
                    allValues.narrow(2, allValues.shape[2] - keys, keys), p: p);
            }
            else
                y = nn.functional.scaled_dot_product_attention(q, allKeys, allValues, Visible(past, first, length, x.device), p);
            // Keys before the next query's window are never read again; trimming at 2W copies each key at most once more.
            if (window is int w && cache.Length >= 2L * w) cache.KeepLast(w);
        }
        Tensor merged = y.transpose(1, 2).reshape(batch, length, width);                                // (b, l, width)
        return out_proj.forward(merged).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Which keys each query sees (l, keys): query i sits at position <paramref name="past"/>+i, key j at
    /// <paramref name="first"/>+j, visible when the key is not later than the query and, with a window, not W or
    /// more positions earlier (is_casual would align the causal mask top-left, wrong after a cache).
    /// </summary>
    private Tensor Visible(long past, long first, long length, Device device)
    {
        Tensor keyPositions = arange(first, past + length, device: device).unsqueeze(0);                // (1, keys)
        Tensor queryPositions = arange(past, past + length, device: device).unsqueeze(1);               // (l, 1)
        Tensor mask = keyPositions <= queryPositions;                                                   // (l, keys)
        return window is int w ? mask & (keyPositions > queryPositions - w) : mask;
    }
}
