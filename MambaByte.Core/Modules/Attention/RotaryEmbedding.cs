using static TorchSharp.torch;

namespace MambaByte.Core.Modules.Attention;

/// <summary>
/// Rotary position embeddings (Su et al. 2021) in the "rotate half" layout of GPT-NeoX / Llama: channel i of
/// the first half pairs with channel i of the second half and the pair turns by angle pos · θ^(−2i/d_head).
/// Positions enter only as relative angles, so a model evaluates past the length it was trained on.
/// </summary>
public static class RotaryEmbedding
{
    /// <summary>cos and sin of the angles for positions start … start+length−1: each (length, headDim/2), in <paramref name="dtype"/>.</summary>
    public static (Tensor Cos, Tensor Sin) Angles(long start, long length, int headDim, double theta, Device device, ScalarType dtype)
    {
        if (headDim % 2 != 0) throw new ArgumentException($"rotary embeddings need an even head dimension, got {headDim}");
        using var scope = NewDisposeScope();
        // Angles in float64 whatever the model dtype: at position 10⁵ float32 angles lose the low bits.
        Tensor inverseFrequency = pow(theta, -arange(0, headDim, 2, dtype: float64, device: device) / headDim);  // (hd/2)
        Tensor positions = arange(start, start + length, dtype: float64, device: device);                         // (l)
        Tensor angles = outer(positions, inverseFrequency);                                                       // (l, hd/2)
        return (angles.cos().to_type(dtype).MoveToOuterDisposeScope(), angles.sin().to_type(dtype).MoveToOuterDisposeScope());
    }

    /// <summary>Rotates <paramref name="x"/> (b, h, l, hd) by the angles from <see cref="Angles"/>.</summary>
    public static Tensor Apply(Tensor x, Tensor cos, Tensor sin)
    {
        using var scope = NewDisposeScope();
        long half = x.shape[^1] / 2;
        Tensor first = x.narrow(-1, 0, half), second = x.narrow(-1, half, half);                                // (b, h, l, hd/2)
        Tensor rotated = cat([first * cos - second * sin, first * sin + second * cos], -1);                     // (b, h, l, hd)
        return rotated.MoveToOuterDisposeScope();
    }
}
