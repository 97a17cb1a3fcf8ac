using System.Buffers.Binary;
using MambaByte.Core.Export;
using MambaByte.Tests.Support;

namespace MambaByte.Tests.Export;

/// <summary>The GGUF container and the ggml encodings on their own, against hand-computed bytes and values.</summary>
public sealed class GgufFormatTests
{
    [Fact]
    public void Q8_0_block_is_an_fp16_scale_then_32_int8_rounded_half_away_from_zero()
    {
        // amax = 127, so d = 1 exactly (fp16 0x3C00) and q = round(x): 2.5 → 3 and −2.5 → −3 (half away from zero,
        // as ggml's roundf; banker's rounding would give 2 and −2), 0.49 → 0, −127 → −127.
        var x = new float[32];
        x[0] = 127f; x[1] = 2.5f; x[2] = -2.5f; x[3] = 0.49f; x[4] = -127f; x[5] = 1.5f; x[31] = -0.5f;
        byte[] block = GgmlQuantization.Encode(GgmlType.Q8_0, x);

        var expected = new byte[34];
        expected[0] = 0x00; expected[1] = 0x3C;                                 // fp16 1.0, little-endian
        expected[2] = 127; expected[3] = 3; expected[4] = 0xFD; expected[5] = 0; expected[6] = 0x81; expected[7] = 2;
        expected[33] = 0xFF;                                                    // −0.5 → −1
        Assert.Equal(expected, block);

        // A scale that fp16 cannot hold: amax = 8 → d = 8/127 = 0.0629921…; fp16 has 2^-4 · (1 + 8/1024) = 0.06298828
        // (bits 0x2C08); q(−8) = −127, q(0.5) = round(7.9375) = 8, q(7.5) = round(119.0625) = 119.
        var y = new float[32];
        y[0] = -8f; y[1] = 0.5f; y[2] = 7.5f;
        byte[] b2 = GgmlQuantization.Encode(GgmlType.Q8_0, y);
        Assert.Equal([0x08, 0x2C, 0x81, 8, 119, 0], b2[..6]);
        float[] back = GgmlQuantization.Decode(GgmlType.Q8_0, b2, 32);
        Assert.Equal(-127 * 0.06298828125f, back[0]);
        Assert.Equal(8 * 0.06298828125f, back[1]);
        Assert.Equal(119 * 0.06298828125f, back[2]);

        // An all-zero block has scale 0 and decodes to zeros.
        Assert.All(GgmlQuantization.Encode(GgmlType.Q8_0, new float[32]), b => Assert.Equal(0, b));
    }

    [Fact]
    public void F16_encoding_is_ieee_half_round_to_nearest_even()
    {
        // 1 + 2^-11 lies halfway between 1 and 1 + 2^-10: to even (1.0, 0x3C00); 1 + 3·2^-11 → 1 + 2^-9 (0x3C02).
        float[] values = [1f, 1f + MathF.Pow(2, -11), 1f + 3 * MathF.Pow(2, -11), -2f, 65504f, 0.1f];
        byte[] data = GgmlQuantization.Encode(GgmlType.F16, values);
        ushort[] bits = Enumerable.Range(0, values.Length).Select(i => BinaryPrimitives.ReadUInt16LittleEndian(data.AsSpan(2 * i))).ToArray();
        Assert.Equal([0x3C00, 0x3C00, 0x3C02, 0xC000, 0x7BFF, 0x2E66], bits);
    }

    [Fact]
    public void Every_metadata_type_and_tensor_type_survives_a_write_and_read()
    {
        using var temp = new TempDir();
        string path = temp.File("all.gguf");
        var metadata = new List<KeyValuePair<string, GgufValue>>
        {
            new("u8", new GgufValue(GgufValueType.UInt8, (byte)200)),
            new("i8", new GgufValue(GgufValueType.Int8, (sbyte)-5)),
            new("u16", new GgufValue(GgufValueType.UInt16, (ushort)60000)),
            new("i16", new GgufValue(GgufValueType.Int16, (short)-30000)),
            new("u32", GgufValue.UInt32(4_000_000_000)),
            new("i32", new GgufValue(GgufValueType.Int32, -2_000_000_000)),
            new("f32", GgufValue.Float32(1.5e-5f)),
            new("bool", GgufValue.Bool(true)),
            new("str", GgufValue.String("ünïcödé")),
            new("u64", new GgufValue(GgufValueType.UInt64, ulong.MaxValue)),
            new("i64", new GgufValue(GgufValueType.Int64, long.MinValue)),
            new("f64", new GgufValue(GgufValueType.Float64, Math.PI)),
            new("ints", GgufValue.Array(GgufValueType.Int32, [1, -2, 3])),
            new("empty", GgufValue.Array(GgufValueType.String, [])),
            new(GgufWriter.AlignmentKey, GgufValue.UInt32(64)),
        };
        var rng = new Random(3);
        float[] a = Enumerable.Range(0, 3 * 5).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        float[] b = Enumerable.Range(0, 2 * 64).Select(_ => (float)rng.NextDouble() * 4 - 2).ToArray();
        float[] c = Enumerable.Range(0, 7).Select(i => i * 0.25f).ToArray();
        var tensors = new List<GgufTensor>
        {
            new("a", [5, 3], GgmlType.F32, GgmlQuantization.Encode(GgmlType.F32, a)),
            new("b", [64, 2], GgmlType.Q8_0, GgmlQuantization.Encode(GgmlType.Q8_0, b)),
            new("c", [7], GgmlType.F16, GgmlQuantization.Encode(GgmlType.F16, c)),
        };
        GgufWriter.Write(path, metadata, tensors);

        GgufFile file = GgufReader.Read(path);
        Assert.Equal(3u, file.Version);
        Assert.Equal(64u, file.Alignment);
        Assert.Equal(metadata.Select(p => p.Key), file.Metadata.Select(p => p.Key));
        foreach (var (key, value) in metadata.Where(p => p.Value.Type != GgufValueType.Array))
            Assert.Equal(value, file[key]);
        Assert.Equal([1, -2, 3], file["ints"].Elements.Cast<int>());
        Assert.Empty(file["empty"].Elements);

        Assert.Equal(0, file.DataOffset % 64);
        // a: 15 × 4 = 60 bytes → 64; b: 4 blocks × 34 = 136 → 192, so c starts at 256; c: 7 × 2 = 14 → 64.
        Assert.Equal([0L, 64L, 256L], file.Tensors.Select(t => t.Offset));
        Assert.Equal(file.DataOffset + 256 + 64, new FileInfo(path).Length);        // the last tensor is padded too
        Assert.Equal(a, file.ReadFloats("a"));
        Assert.Equal(c, file.ReadFloats("c"));                                       // quarters are exact in fp16
        Assert.Equal([3L, 5L], file.Tensor("a").TorchShape);
        float[] bBack = file.ReadFloats("b");
        for (int i = 0; i < b.Length; i++) Assert.True(Math.Abs(b[i] - bBack[i]) <= Q8_0Bound(b.AsSpan(i / 32 * 32, 32)), $"b[{i}]");
    }

    [Fact]
    public void Reader_refuses_bad_magic_a_truncated_file_and_an_unknown_tensor_type_naming_the_file()
    {
        using var temp = new TempDir();
        string good = temp.File("good.gguf");
        GgufWriter.Write(good, [new("k", GgufValue.String("v"))],
            [new GgufTensor("t", [4], GgmlType.F32, GgmlQuantization.Encode(GgmlType.F32, [1f, 2f, 3f, 4f]))]);
        byte[] bytes = File.ReadAllBytes(good);

        string notGguf = temp.File("model.safetensors");
        File.WriteAllBytes(notGguf, [.. "GGML"u8, .. bytes[4..]]);
        Assert.Contains("not a GGUF file", Assert.Throws<InvalidDataException>(() => GgufReader.Read(notGguf)).Message);
        Assert.False(GgufReader.HasMagic(notGguf));
        Assert.True(GgufReader.HasMagic(good));

        string truncated = temp.File("truncated.gguf");
        File.WriteAllBytes(truncated, bytes[..(bytes.Length - 20)]);
        var e = Assert.Throws<InvalidDataException>(() => GgufReader.Read(truncated));
        Assert.StartsWith(truncated, e.Message);
        Assert.Contains("truncated", e.Message);

        // The tensor info's type field sits just before its uint64 offset: make it Q4_0 (2).
        byte[] changed = (byte[])bytes.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(changed.AsSpan(FindInfoTypeField(bytes, (int)GgufReader.Read(good).DataOffset)), 2);
        string q4 = WriteAll(temp.File("q4.gguf"), changed);
        Assert.Contains("ggml type 2", Assert.Throws<InvalidDataException>(() => GgufReader.Read(q4)).Message);
    }

    [Fact]
    public void Writer_refuses_q8_0_rows_that_are_not_whole_blocks_and_leaves_no_file()
    {
        using var temp = new TempDir();
        string path = temp.File("bad.gguf");
        var tensor = new GgufTensor("w", [16, 4], GgmlType.Q8_0, new byte[2 * 34]);
        Assert.Throws<ArgumentException>(() => GgufWriter.Write(path, [], [tensor]));
        Assert.Empty(Directory.GetFileSystemEntries(temp.Path));
    }

    /// <summary>
    /// The stated Q8_0 error bound for a block: with d = max|x|/127 (float32), |x − q·fp16(d)| ≤ d/2 + 127·|d − fp16(d)|;
    /// the float32 product x·(1/d) that is rounded adds at most a few ulp of 127, allowed as 1e-5·d.
    /// </summary>
    public static double Q8_0Bound(ReadOnlySpan<float> block)
    {
        float amax = 0;
        foreach (float v in block) amax = MathF.Max(amax, MathF.Abs(v));
        float d = amax / 127f;
        double d16 = (double)(Half)d;
        return d * (0.5 + 1e-5) + 127 * Math.Abs(d - d16);
    }

    static string WriteAll(string path, byte[] bytes)
    {
        File.WriteAllBytes(path, bytes);
        return path;
    }

    // The single tensor "t" has info: u64 name length 1, 't', u32 n_dims 1, u64 ne 4, u32 type, u64 offset 0.
    static int FindInfoTypeField(byte[] file, int dataOffset)
    {
        byte[] info = [1, 0, 0, 0, 0, 0, 0, 0, (byte)'t', 1, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0];
        int at = file.AsSpan(0, dataOffset).IndexOf(info);
        Assert.True(at > 0);
        return at + info.Length;
    }
}
