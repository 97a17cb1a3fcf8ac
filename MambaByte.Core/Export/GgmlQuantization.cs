using System.Buffers.Binary;

namespace MambaByte.Core.Export;

/// <summary>
/// Encodes float32 values as ggml's F32, F16 and Q8_0 tensor data and decodes them back (little-endian).
/// <list type="bullet">
/// <item>F16: IEEE half, round to nearest even (what numpy's <c>astype(float16)</c> and ggml's F16C path do): a
/// relative error of at most 2^-11 for normal values, an absolute one of at most 2^-25 below 2^-14.</item>
/// <item>Q8_0 (ggml's <c>quantize_row_q8_0_ref</c>): per block of 32, d = max|x| / 127 in float32, q = round(x / d)
/// half away from zero, stored as fp16(d) then 32 int8; decoded x' = q · fp16(d). So |x − x'| ≤ d/2 + 127·|d − fp16(d)|.</item>
/// </list>
/// </summary>
public static class GgmlQuantization
{
    /// <summary>Values per Q8_0 block.</summary>
    public const int Q8BlockSize = 32;

    /// <summary>Bytes per Q8_0 block: the fp16 scale and 32 int8.</summary>
    public const int Q8BlockBytes = 2 + Q8BlockSize;

    /// <summary>Values per block of a type (1 for F32 and F16).</summary>
    public static int BlockSize(GgmlType type) => type == GgmlType.Q8_0 ? Q8BlockSize : 1;

    /// <summary>Bytes a tensor of <paramref name="elements"/> values takes in <paramref name="type"/>.</summary>
    public static long ByteCount(GgmlType type, long elements) => type switch
    {
        GgmlType.F32 => elements * 4,
        GgmlType.F16 => elements * 2,
        GgmlType.Q8_0 => elements % Q8BlockSize == 0
            ? elements / Q8BlockSize * Q8BlockBytes
            : throw new ArgumentException($"Q8_0 needs a multiple of {Q8BlockSize} values, got {elements}"),
        _ => throw new NotSupportedException($"ggml type {type}"),
    };

    public static byte[] Encode(GgmlType type, ReadOnlySpan<float> values) => type switch
    {
        GgmlType.F32 => EncodeF32(values),
        GgmlType.F16 => EncodeF16(values),
        GgmlType.Q8_0 => EncodeQ8_0(values),
        _ => throw new NotSupportedException($"ggml type {type}"),
    };

    public static float[] Decode(GgmlType type, ReadOnlySpan<byte> data, long elements)
    {
        if (data.Length != ByteCount(type, elements))
            throw new ArgumentException($"{type}: {elements} values need {ByteCount(type, elements)} bytes, got {data.Length}");
        var values = new float[elements];
        switch (type)
        {
            case GgmlType.F32:
                for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadSingleLittleEndian(data[(4 * i)..]);
                break;
            case GgmlType.F16:
                for (int i = 0; i < values.Length; i++) values[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(data[(2 * i)..]);
                break;
            case GgmlType.Q8_0:
                for (int block = 0; block < values.Length / Q8BlockSize; block++)
                {
                    ReadOnlySpan<byte> b = data.Slice(block * Q8BlockBytes, Q8BlockBytes);
                    float d = (float)BinaryPrimitives.ReadHalfLittleEndian(b);
                    for (int j = 0; j < Q8BlockSize; j++) values[block * Q8BlockSize + j] = (sbyte)b[2 + j] * d;
                }
                break;
            default:
                throw new NotSupportedException($"ggml type {type}");
        }
        return values;
    }

    static byte[] EncodeF32(ReadOnlySpan<float> values)
    {
        var data = new byte[values.Length * 4];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteSingleLittleEndian(data.AsSpan(4 * i), values[i]);
        return data;
    }

    static byte[] EncodeF16(ReadOnlySpan<float> values)
    {
        var data = new byte[values.Length * 2];
        for (int i = 0; i < values.Length; i++) BinaryPrimitives.WriteHalfLittleEndian(data.AsSpan(2 * i), (Half)values[i]);
        return data;
    }

    static byte[] EncodeQ8_0(ReadOnlySpan<float> values)
    {
        var data = new byte[ByteCount(GgmlType.Q8_0, values.Length)];
        for (int block = 0; block < values.Length / Q8BlockSize; block++)
        {
            ReadOnlySpan<float> x = values.Slice(block * Q8BlockSize, Q8BlockSize);
            Span<byte> b = data.AsSpan(block * Q8BlockBytes, Q8BlockBytes);
            float amax = 0;
            foreach (float v in x) amax = MathF.Max(amax, MathF.Abs(v));
            float d = amax / 127f;
            float id = d != 0 ? 1f / d : 0f;
            BinaryPrimitives.WriteHalfLittleEndian(b, (Half)d);
            for (int j = 0; j < Q8BlockSize; j++)
                b[2 + j] = (byte)(sbyte)MathF.Round(x[j] * id, MidpointRounding.AwayFromZero);
        }
        return data;
    }
}
