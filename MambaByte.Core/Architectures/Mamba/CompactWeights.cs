namespace MambaByte.Core.Architectures.Mamba;

/// <summary>
/// Rounding of weight rows to the compact <see cref="WeightFormat"/>s and back. The dequantised values are what
/// the compact products multiply with, so a model whose weights are replaced by them computes the same numbers
/// in every path (parallel forward, reference step, fused step).
/// </summary>
public static class CompactWeights
{
    /// <summary>
    /// Symmetric int8 of one row: scale = max |w| / 127 (1 for an all-zero row), q = round(w / scale) in
    /// [−127, 127]. Every |w − q·scale| ≤ scale / 2 (plus float rounding).
    /// </summary>
    public static float QuantizeInt8(ReadOnlySpan<float> row, Span<sbyte> q)
    {
        float max = 0;
        foreach (float w in row) max = Math.Max(max, Math.Abs(w));
        float scale = max > 0 ? max / 127f : 1f;
        for (int i = 0; i < row.Length; i++) q[i] = (sbyte)Math.Clamp(MathF.Round(row[i] / scale, MidpointRounding.ToEven), -127f, 127f);
        return scale;
    }

    /// <summary>float → bfloat16 bits, rounding to nearest even (NaN kept a quiet NaN).</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value)) return (ushort)((bits >> 16) | 0x40);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    public static float FromBFloat16(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);
}
