using MambaByte.Core.Generation;
using MambaByte.Core.Ops.Kernels;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Tests.Generation;

/// <summary>The step's matrix–vector products against their plain definition, and the compact formats' rounding.</summary>
public sealed unsafe class GemvKernelTests
{
    static float[] Random(int count, int seed, float scale = 1)
    {
        var random = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)(random.NextDouble() * 2 - 1) * scale;
        return values;
    }

    static double MaxRelative(float[] expected, float[] actual)
    {
        double worst = 0, scale = expected.Max(v => Math.Abs(v));
        for (int i = 0; i < expected.Length; i++) worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]) / scale);
        return worst;
    }

    // Rows not a multiple of 4 or 8, columns not a multiple of the vector width, batches around the 4-row block.
    [Theory]
    [InlineData(37, 45, 1)]
    [InlineData(37, 45, 3)]
    [InlineData(37, 45, 4)]
    [InlineData(16, 64, 7)]
    [InlineData(1030, 520, 1)]
    public void Fp32_product_equals_the_plain_definition(int rows, int cols, int batch)
    {
        foreach (long threshold in new[] { long.MaxValue, 0L })                               // one piece, then rows split over the cores
            Fp32Product(rows, cols, batch, threshold);
    }

    static void Fp32Product(int rows, int cols, int batch, long threshold)
    {
        float[] w = Random(rows * cols, 1), x = Random(batch * cols, 2), bias = Random(rows, 3);
        float[] expected = new float[batch * rows], actual = new float[batch * rows];
        fixed (float* pw = w, px = x, pb = bias, pe = expected, pa = actual)
        {
            var m = new GemvMatrix((nint)pw, rows, cols, 0, (nint)pb);
            GemvKernel<float>.Reference<PlainLoad<float>>(m, px, cols, batch, pe, rows);
            long saved = GemvKernel<float>.ParallelThreshold;
            try
            {
                GemvKernel<float>.ParallelThreshold = threshold;
                GemvKernel<float>.Run<PlainLoad<float>>(m, px, cols, batch, pa, rows);
            }
            finally
            {
                GemvKernel<float>.ParallelThreshold = saved;
            }
        }
        Assert.True(MaxRelative(expected, actual) < 1e-5, $"max relative difference {MaxRelative(expected, actual):E2}");
    }

    [Fact]
    public void Fp64_product_equals_the_plain_definition_to_1e_12()
    {
        const int rows = 21, cols = 19, batch = 6;
        var random = new Random(4);
        double[] w = [.. Enumerable.Range(0, rows * cols).Select(_ => random.NextDouble() - 0.5)];
        double[] x = [.. Enumerable.Range(0, batch * cols).Select(_ => random.NextDouble() - 0.5)];
        double[] expected = new double[batch * rows], actual = new double[batch * rows];
        fixed (double* pw = w, px = x, pe = expected, pa = actual)
        {
            var m = new GemvMatrix((nint)pw, rows, cols);
            GemvKernel<double>.Reference<PlainLoad<double>>(m, px, cols, batch, pe, rows);
            GemvKernel<double>.Run<PlainLoad<double>>(m, px, cols, batch, pa, rows);
        }
        for (int i = 0; i < expected.Length; i++) Assert.True(Math.Abs(expected[i] - actual[i]) < 1e-12, $"{i}: {expected[i]} vs {actual[i]}");
    }

    [Fact]
    public void Every_sequence_of_a_batch_gets_the_bits_it_gets_alone()
    {
        const int rows = 43, cols = 77, batch = 9;
        float[] w = Random(rows * cols, 5), x = Random(batch * cols, 6);
        float[] together = new float[batch * rows], alone = new float[rows];
        fixed (float* pw = w, px = x, pt = together, pa = alone)
        {
            var m = new GemvMatrix((nint)pw, rows, cols);
            GemvKernel<float>.Run<PlainLoad<float>>(m, px, cols, batch, pt, rows);
            for (int b = 0; b < batch; b++)
            {
                GemvKernel<float>.Run<PlainLoad<float>>(m, px + b * cols, cols, 1, pa, rows);
                Assert.Equal(alone, together.AsSpan(b * rows, rows).ToArray());
            }
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    public void Int8_product_equals_a_float_product_of_the_dequantised_weights(int batch)
    {
        const int rows = 29, cols = 70;
        float[] w = Random(rows * cols, 7, 0.3f), x = Random(batch * cols, 8), bias = Random(rows, 9);
        var q = new sbyte[rows * cols];
        var scales = new float[rows];
        var dequantised = new float[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            scales[r] = CompactWeights.QuantizeInt8(w.AsSpan(r * cols, cols), q.AsSpan(r * cols, cols));
            for (int j = 0; j < cols; j++) dequantised[r * cols + j] = q[r * cols + j] * scales[r];
        }
        float[] expected = new float[batch * rows], actual = new float[batch * rows];
        sbyte[] tiled = WeightTiles.Pack<sbyte>(q, rows, cols);
        fixed (float* pd = dequantised, px = x, pb = bias, ps = scales, pe = expected, pa = actual)
        fixed (sbyte* pq = tiled)
        {
            GemvKernel<float>.Reference<PlainLoad<float>>(new GemvMatrix((nint)pd, rows, cols, 0, (nint)pb), px, cols, batch, pe, rows);
            GemvKernel<float>.Run<Int8Load>(new GemvMatrix((nint)pq, rows, cols, (nint)ps, (nint)pb), px, cols, batch, pa, rows);
        }
        Assert.True(MaxRelative(expected, actual) < 1e-5, $"max relative difference {MaxRelative(expected, actual):E2}");
    }

    [Fact]
    public void Bf16_product_equals_a_float_product_of_the_widened_weights()
    {
        const int rows = 13, cols = 33, batch = 4;
        float[] w = Random(rows * cols, 10), x = Random(batch * cols, 11);
        ushort[] packed = [.. w.Select(CompactWeights.ToBFloat16)];
        float[] widened = [.. packed.Select(CompactWeights.FromBFloat16)];
        float[] expected = new float[batch * rows], actual = new float[batch * rows];
        ushort[] tiled = WeightTiles.Pack<ushort>(packed, rows, cols);
        fixed (float* pw = widened, px = x, pe = expected, pa = actual)
        fixed (ushort* pp = tiled)
        {
            GemvKernel<float>.Reference<PlainLoad<float>>(new GemvMatrix((nint)pw, rows, cols), px, cols, batch, pe, rows);
            GemvKernel<float>.Run<BFloat16Load>(new GemvMatrix((nint)pp, rows, cols), px, cols, batch, pa, rows);
        }
        Assert.True(MaxRelative(expected, actual) < 1e-5, $"max relative difference {MaxRelative(expected, actual):E2}");
    }

    /// <summary>
    /// The tiled layout by hand: in a (16, 64) matrix, element (9, 33) is in row block 1 (8 · 64 = 512 elements in),
    /// column chunk 1 (32 · 8 = 256 more), row 1 of the block (32 more), column 1 of the chunk: offset 801. Then every
    /// element of odd shapes read back through both compact loads, scalar and vector, equals the row-major original,
    /// and the padding is zeros.
    /// </summary>
    [Fact]
    public void Tiled_compact_weights_read_back_as_the_row_major_matrix()
    {
        static float[] Lanes(System.Runtime.Intrinsics.Vector256<float> v) { var a = new float[8]; System.Runtime.Intrinsics.Vector256.CopyTo(v, a); return a; }
        sbyte[] byHand = WeightTiles.Pack<sbyte>([.. Enumerable.Range(0, 16 * 64).Select(i => (sbyte)(i == 9 * 64 + 33 ? 1 : 0))], 16, 64);
        Assert.Equal(16 * 64, byHand.Length);
        Assert.Equal(801, Array.IndexOf(byHand, (sbyte)1));

        foreach ((int rows, int cols) in new[] { (1, 1), (7, 31), (9, 33), (29, 70), (16, 64) })
        {
            var random = new Random(rows * 100 + cols);
            sbyte[] q = [.. Enumerable.Range(0, rows * cols).Select(_ => (sbyte)random.Next(-127, 128))];
            ushort[] h = [.. Enumerable.Range(0, rows * cols).Select(_ => CompactWeights.ToBFloat16((float)random.NextDouble() - 0.5f))];
            sbyte[] tq = WeightTiles.Pack<sbyte>(q, rows, cols);
            ushort[] th = WeightTiles.Pack<ushort>(h, rows, cols);
            long padded = (long)((rows + 7) / 8 * 8) * ((cols + 31) / 32 * 32);
            Assert.Equal(padded, tq.Length);
            Assert.Equal(padded - rows * cols, tq.LongCount(v => v == 0) - q.LongCount(v => v == 0));
            fixed (sbyte* pq = tq)
            fixed (ushort* ph = th)
            {
                var mq = new GemvMatrix((nint)pq, rows, cols);
                var mh = new GemvMatrix((nint)ph, rows, cols);
                for (int r = 0; r < rows; r++)
                {
                    nint rq = Int8Load.Row(mq, r), rh = BFloat16Load.Row(mh, r);
                    for (int c = 0; c < cols; c++)
                    {
                        Assert.Equal(q[r * cols + c], Int8Load.LoadScalar(rq, c));
                        Assert.Equal(CompactWeights.FromBFloat16(h[r * cols + c]), BFloat16Load.LoadScalar(rh, c));
                    }
                    for (int c = 0; c + 8 <= cols; c += 8)
                    {
                        Assert.Equal(Enumerable.Range(c, 8).Select(j => (float)q[r * cols + j]), Lanes(Int8Load.Load(rq, c)));
                        Assert.Equal(Enumerable.Range(c, 8).Select(j => CompactWeights.FromBFloat16(h[r * cols + j])), Lanes(BFloat16Load.Load(rh, c)));
                    }
                }
            }
        }
    }

    [Fact]
    public void Int8_rounding_error_is_at_most_half_a_step_of_the_row_scale()
    {
        float[][] rows = [Random(100, 12, 0.05f), Random(7, 13, 3f), new float[9], [1e-30f, -2e-30f, 0f], [-5f, 5f, 2.5f, 0.01f]];
        foreach (float[] row in rows)
        {
            var q = new sbyte[row.Length];
            float scale = CompactWeights.QuantizeInt8(row, q);
            float max = row.Max(v => Math.Abs(v));
            Assert.Equal(max > 0 ? max / 127f : 1f, scale);
            for (int j = 0; j < row.Length; j++)
            {
                Assert.InRange(q[j], (sbyte)-127, (sbyte)127);
                Assert.True(Math.Abs(row[j] - q[j] * scale) <= scale / 2 * (1 + 1e-5), $"{row[j]} -> {q[j]} x {scale}");
            }
            if (max > 0) Assert.Equal(127, q.Max(v => Math.Abs((int)v)));
        }
    }

    [Fact]
    public void Bf16_rounding_matches_torch()
    {
        Support.SingleThreadedTorch.Ensure();
        float[] values = [.. Random(2000, 14, 100f), 1f, -0f, 1.00390625f, 1.01171875f, 3.4e38f, 1e-40f];
        using var t = TorchSharp.torch.tensor(values);
        using var rounded = t.to(TorchSharp.torch.bfloat16).to(TorchSharp.torch.float32);
        float[] expected = rounded.data<float>().ToArray();
        for (int i = 0; i < values.Length; i++)
            Assert.Equal(expected[i], CompactWeights.FromBFloat16(CompactWeights.ToBFloat16(values[i])));
    }
}
