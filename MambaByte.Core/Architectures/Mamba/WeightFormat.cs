namespace MambaByte.Core.Architectures.Mamba;

/// <summary>
/// How the large inference matrices (every layer's in_proj and out_proj, and the LM head, which is the embedding
/// when tied) are stored for generation and evaluation. The other weights stay in the model's dtype.
/// </summary>
public enum WeightFormat
{
    /// <summary>The model's own float32 (or float64) weights, read in place.</summary>
    Fp32,

    /// <summary>bfloat16 (round to nearest even), widened to float inside the product: half the bytes.</summary>
    Bf16,

    /// <summary>int8 weight-only, one float scale per output row (max |w| / 127, round to nearest): a quarter of the bytes.</summary>
    Int8,
}
