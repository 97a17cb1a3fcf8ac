using MambaByte.Core.Modules;
using MambaByte.Core.Ops;
using MambaByte.Core.Ops.Kernels;
using MambaByte.Tests.Support;
using TorchSharp;
using static MambaByte.Tests.Ops.ScanTestInputs;
using static TorchSharp.torch;

namespace MambaByte.Tests.Ops;

/// <summary>
/// The fused residual add + RMSNorm against the tensor-op composition it replaces (<c>s = x + residual</c>, then
/// <see cref="RMSNorm"/> from plain libtorch ops, then the cast to the output dtype), in values and in the gradients of
/// x, the residual and the weight, with upstream gradients on both outputs; and its bf16 conversions against libtorch's.
/// </summary>
public sealed class FusedAddNormTests
{
    /// <summary>Rows 1, 7 and 300 (the last splits across threads: 300 × 130 is over the serial threshold); d odd and even; with and without a residual and the sum output.</summary>
    [Theory]
    [InlineData(1, 13, true, true)]
    [InlineData(7, 13, false, true)]
    [InlineData(7, 16, true, false)]
    [InlineData(300, 130, true, true)]
    [InlineData(300, 130, false, false)]
    public void Fused_add_norm_equals_the_tensor_op_norm_at_float64(int rows, int d, bool withResidual, bool keepSum)
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        var gen = new Generator((ulong)(rows * 31 + d));
        var norm = new RMSNorm(d, eps: 1e-5);
        norm.to(float64);
        using (no_grad()) norm.Weight.copy_(randn([d], dtype: float64, generator: gen) + 1);   // ones at init: make it count
        Tensor x = randn([2, rows, d], dtype: float64, generator: gen), residual = randn([2, rows, d], dtype: float64, generator: gen);
        Tensor gy = randn([2, rows, d], dtype: float64, generator: gen), gSum = randn([2, rows, d], dtype: float64, generator: gen);

        var results = new List<(Tensor Y, Tensor? Sum, Tensor Gx, Tensor? GResidual, Tensor GWeight)>();
        foreach (bool fused in new[] { false, true })
        {
            norm.zero_grad();
            Tensor xi = x.clone().requires_grad_(), ri = residual.clone().requires_grad_();
            Tensor? r = withResidual ? ri : null;
            Tensor y, sum;
            if (fused)
            {
                Assert.True(FusedAddNorm.Supports(xi, r, norm.Weight, float64, float64));
                (y, Tensor? s) = FusedAddNorm.Apply(xi, r, norm.Weight, norm.Eps, float64, keepSum);
                Assert.Equal(keepSum, s is not null);
                sum = s ?? (r is null ? xi : xi + r);   // without the sum output, its gradient reaches x through the plain add
            }
            else
            {
                sum = r is null ? xi * 1 : xi + r;
                y = norm.forward(sum);
            }
            autograd.backward([y, sum], [gy, gSum]);
            results.Add((y.detach(), sum.detach(), xi.grad!.clone(), withResidual ? ri.grad!.clone() : null, norm.Weight.grad!.clone()));
        }
        var (reference, actual) = (results[0], results[1]);
        AssertClose("y", actual.Y, reference.Y, 1e-12, 1e-12);
        AssertClose("sum", actual.Sum!, reference.Sum!, 0, 0);
        AssertClose("d x", actual.Gx, reference.Gx, 1e-12, 1e-12);
        if (withResidual) AssertClose("d residual", actual.GResidual!, reference.GResidual!, 1e-12, 1e-12);
        AssertClose("d weight", actual.GWeight, reference.GWeight, 1e-12, 1e-12);
    }

    /// <summary>
    /// The first block's case in fp64 by hand: rows of a known sum give rstd = 1/√(mean(s²)+eps) exactly, y = s·rstd·w,
    /// and with ∂L/∂y = w⁻¹ (so w·g = 1) the input gradient is rstd·(1 − ŝ·mean(ŝ)).
    /// </summary>
    [Fact]
    public void Fused_add_norm_matches_a_hand_computed_row()
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        double[] s = [1, -2, 3, 0.5], w = [2, 0.5, -1, 4];
        const double eps = 1e-5;
        Tensor weight = tensor(w, dtype: float64).requires_grad_();
        Tensor x = tensor(new[] { 0.75, -2.5, 1.0, 0.25 }, dtype: float64).reshape(1, 4).requires_grad_();
        Tensor residual = (tensor(s, dtype: float64).reshape(1, 4) - x.detach()).requires_grad_();   // x + residual = s exactly (dyadic values)
        var (y, _) = FusedAddNorm.Apply(x, residual, weight, eps, float64, keepSum: false);
        y.backward([tensor(w.Select(v => 1 / v).ToArray(), dtype: float64).reshape(1, 4)]);

        double rstd = 1 / Math.Sqrt(s.Sum(v => v * v) / 4 + eps);
        double meanHat = s.Sum() * rstd / 4;
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(s[i] * rstd * w[i], y[0, i].item<double>(), 1e-14);
            double expected = rstd * (1 - s[i] * rstd * meanHat);
            Assert.Equal(expected, x.grad![0, i].item<double>(), 1e-14);
            Assert.Equal(expected, residual.grad![0, i].item<double>(), 1e-14);
            Assert.Equal(s[i] * rstd / w[i], weight.grad![i].item<double>(), 1e-14);
        }
    }

    /// <summary>
    /// bf16 mixed precision as the blocks run it: x in bf16, the residual stream and the norm in float32, y in bf16. y
    /// and ∂L/∂x are bf16 roundings of float32 values that differ from the reference's only in the order of a row's sum,
    /// so they agree to a bf16 step (2⁻⁸ relative) at most; the float32 gradients agree to float32 rounding.
    /// </summary>
    [Fact]
    public void Fused_add_norm_in_bf16_mixed_precision_matches_the_tensor_op_norm()
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        var gen = new Generator(12);
        const int d = 72;
        var norm = new RMSNorm(d);
        using (no_grad()) norm.Weight.copy_(randn([d], generator: gen) + 1);
        Tensor x = randn([3, 50, d], generator: gen).to_type(bfloat16), residual = randn([3, 50, d], generator: gen);
        Tensor gy = randn([3, 50, d], generator: gen).to_type(bfloat16), gSum = randn([3, 50, d], generator: gen);
        var results = new List<Tensor[]>();
        foreach (bool fused in new[] { false, true })
        {
            norm.zero_grad();
            Tensor xi = x.clone().requires_grad_(), ri = residual.clone().requires_grad_();
            Tensor y, sum;
            if (fused)
            {
                Assert.True(FusedAddNorm.Supports(xi, ri, norm.Weight, float32, bfloat16));
                (y, Tensor? s) = FusedAddNorm.Apply(xi, ri, norm.Weight, norm.Eps, bfloat16, keepSum: true);
                sum = s!;
            }
            else
            {
                sum = xi + ri;                                                                // bf16 + fp32 → fp32, as the blocks add
                y = norm.forward(sum).to_type(bfloat16);
            }
            Assert.Equal(bfloat16, y.dtype);
            Assert.Equal(float32, sum.dtype);
            autograd.backward([y, sum], [gy, gSum]);
            Assert.Equal(bfloat16, xi.grad!.dtype);
            results.Add([y.detach().to_type(float64), sum.detach().to_type(float64), xi.grad!.to_type(float64), ri.grad!.to_type(float64), norm.Weight.grad!.to_type(float64)]);
        }
        AssertClose("y", results[1][0], results[0][0], 1.0 / 256, 1e-6);
        AssertClose("sum", results[1][1], results[0][1], 0, 0);
        AssertClose("d x", results[1][2], results[0][2], 1.0 / 256, 1e-6);
        AssertClose("d residual", results[1][3], results[0][3], 1e-5, 1e-6);
        AssertClose("d weight", results[1][4], results[0][4], 1e-5, 1e-5);
    }

    [Fact]
    public void Unsupported_operands_are_refused_and_left_to_the_tensor_ops()
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        Tensor w32 = ones(8), w64 = ones(8, dtype: float64), x = randn(2, 8);
        Assert.False(FusedAddNorm.Supports(x.to_type(float16), null, w32, float32, float32));      // fp16 input
        Assert.False(FusedAddNorm.Supports(x, null, w32, float32, float16));                        // fp16 output
        Assert.False(FusedAddNorm.Supports(x.to_type(bfloat16), null, w64, float64, float64));      // bf16 with a float64 norm
        Assert.False(FusedAddNorm.Supports(x, randn(2, 8, dtype: float64), w32, float32, float32)); // residual in another dtype
        Assert.False(FusedAddNorm.Supports(x, randn(2, 4), w32, float32, float32));                 // residual of another shape
        Assert.False(FusedAddNorm.Supports(x, null, w32, float64, float32));                        // the stream in another dtype than the norm
        Assert.True(FusedAddNorm.Supports(x, null, w32, float32, bfloat16));
        Assert.Throws<ArgumentException>(() => FusedAddNorm.Apply(x.to_type(float16), null, w32, 1e-5, float32, keepSum: false));
    }

    /// <summary>
    /// bf16 ⇄ float32 over runs of every length up to two vectors and a tail, against libtorch's casts, bit for bit (ties,
    /// subnormals, infinities); a NaN only has to stay a NaN (libtorch's own scalar and SIMD casts give it different bits).
    /// </summary>
    [Fact]
    public unsafe void BFloat16_rows_convert_as_libtorch_does()
    {
        SingleThreadedTorch.Ensure();
        using var scope = NewDisposeScope();
        var values = new List<float> { 0f, -0f, 1f, float.PositiveInfinity, float.NegativeInfinity, float.NaN, float.Epsilon, -1e-40f, float.MaxValue, 3.3895314e38f };
        foreach (uint bits in new uint[] { 0x3F808000, 0x3F818000, 0x3F80FFFF, 0x3F807FFF, 0x7F7FFFFF, 0x00008000, 0x80018000 })
            values.Add(BitConverter.UInt32BitsToSingle(bits));                                     // ties to even both ways, near-ties, the largest float, subnormal ties
        var rng = new Random(3);
        while (values.Count < 77) values.Add((float)((rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-130, 120))));
        float[] source = [.. values];
        ushort[] narrowed = new ushort[source.Length];
        float[] widened = new float[source.Length];
        foreach (int count in new[] { 1, 15, 16, 17, 31, 32, 33, source.Length })
        {
            Array.Clear(narrowed);
            fixed (float* s = source) fixed (ushort* n = narrowed) BFloat16Rows.Narrow(s, n, count);
            Tensor libtorch = tensor(source[..count]).to_type(bfloat16);
            ushort* expected = (ushort*)TensorAddress.Of(libtorch);
            static bool IsNaN(ushort bf16) => (bf16 & 0x7F80) == 0x7F80 && (bf16 & 0x7F) != 0;
            for (int i = 0; i < count; i++)
                Assert.True(expected[i] == narrowed[i] || (float.IsNaN(source[i]) && IsNaN(expected[i]) && IsNaN(narrowed[i])), $"narrow {source[i]:R} (0x{BitConverter.SingleToUInt32Bits(source[i]):X8}) at {i} of {count}: 0x{narrowed[i]:X4}, libtorch 0x{expected[i]:X4}");
            fixed (float* w = widened) BFloat16Rows.Widen(expected, w, count);                       // libtorch's bf16 values back, against its own widening
            float[] back = libtorch.to_type(float32).data<float>().ToArray();
            for (int i = 0; i < count; i++)
                Assert.True(BitConverter.SingleToUInt32Bits(back[i]) == BitConverter.SingleToUInt32Bits(widened[i]), $"widen 0x{expected[i]:X4} at {i}: {widened[i]:R}, libtorch {back[i]:R}");
        }
    }

    /// <summary>The kernels' bf16 lane loads and stores at both SIMD widths, full and partial (missing lanes load as 0, stores leave the rest), against the row conversions.</summary>
    [Fact]
    public unsafe void BFloat16_lanes_load_and_store_as_the_rows_convert()
    {
        float[] values = [.. Enumerable.Range(0, 16).Select(i => (float)Math.Sin(i * 1.7) * MathF.Pow(3, i - 8))];
        ushort[] expected = new ushort[16];
        fixed (float* v = values) fixed (ushort* e = expected) BFloat16Rows.Narrow(v, e, 16);
        foreach (int lanes in new[] { 16, 11, 1 }) Check<Lanes512<float>>(lanes);
        foreach (int lanes in new[] { 8, 5, 1 }) Check<Lanes256<float>>(lanes);

        void Check<TV>(int lanes) where TV : unmanaged, ISimdLanes<TV, float>
        {
            ushort[] stored = Enumerable.Repeat((ushort)0xABCD, 17).ToArray();
            fixed (float* v = values) fixed (ushort* s = stored)
            {
                TV.StoreBFloat16(TV.Load(v, lanes), s, lanes);
                for (int i = 0; i < 17; i++) Assert.Equal(i < lanes ? expected[i] : (ushort)0xABCD, stored[i]);
                TV loaded = TV.LoadBFloat16(s, lanes);
                for (int i = 0; i < TV.Count; i++)
                    Assert.Equal(i < lanes ? BitConverter.UInt32BitsToSingle((uint)expected[i] << 16) : 0f, TV.Element(loaded, i));
            }
        }
    }
}
