using System.Runtime.Intrinsics;
using MambaByte.Core.Ops.Kernels;

namespace MambaByte.Tests.Ops;

public sealed class SelectiveScanKernelTests
{
    [Fact]
    public void Single_precision_exp_is_within_a_few_ulp_of_Math_Exp()
    {
        double worst = 0;
        for (int i = 0; i <= 100_000; i++)
        {
            float x = -87f + 107f * i / 100_000f; // [-87, 20]: decays, softplus and sigmoid arguments
            float got = SelectiveScanKernel<float>.ExpFloat(Vector256.Create(x)).GetElement(3);
            double expected = Math.Exp(x);
            worst = Math.Max(worst, Math.Abs(got - expected) / expected);
        }
        Assert.True(worst < 4e-7, $"worst relative error {worst:G3}");
        float tiny = SelectiveScanKernel<float>.ExpFloat(Vector256.Create(-1000f)).GetElement(0);
        Assert.True(tiny is > 0 and < 1.7e-38f, $"exp(-1000) gave {tiny}");
        Assert.Equal(1f, SelectiveScanKernel<float>.ExpFloat(Vector256.Create(0f)).GetElement(0));
    }

    public static TheoryData<string> Exp2Forms => new() { "256-bit", "512-bit" };

    /// <summary>
    /// The scan's decay 2ʸ in both widths (with AVX-512 both take the vrndscaleps/vscalefps form, without it the
    /// rounding-shift form with its clamp): within two ulp of Math.Pow on the decays' range, and below the normal floats
    /// within 3e-38 of the true value (0 or subnormal with AVX-512, 2⁻¹²⁵ clamped without), never NaN, −∞ included.
    /// </summary>
    [Theory]
    [MemberData(nameof(Exp2Forms))]
    public void Base_2_decay_exponential_is_within_two_ulp_of_Math_Pow_and_tiny_below_the_normal_floats(string form)
    {
        if (form == "512-bit" && !Vector512.IsHardwareAccelerated) return;   // the 512-bit form runs only where 512-bit vectors do
        float Exp2(float y) => form == "256-bit"
            ? SelectiveScanKernel<float>.Exp2Float(Vector256.Create(y)).GetElement(6)
            : Lanes512<float>.Decay(Lanes512<float>.Broadcast(y), Lanes512<float>.One).V.GetElement(11);
        double worst = 0;
        for (int i = 0; i <= 200_000; i++)
        {
            float y = -125f + 140f * i / 200_000f; // [-125, 15]: Δ·A·log₂e of the decays (and a little above 0)
            double expected = Math.Pow(2, y);
            worst = Math.Max(worst, Math.Abs(Exp2(y) - expected) / expected);
        }
        Assert.True(worst < 2.4e-7, $"worst relative error {worst:G3}");
        foreach (float y in new[] { -126f, -130.5f, -140f, -149f, -160f, -1000f, float.NegativeInfinity })
        {
            float got = Exp2(y);
            Assert.True(got >= 0 && Math.Abs(got - Math.Pow(2, y)) < 3e-38, $"2^{y} gave {got}");
        }
        Assert.Equal(1f, Exp2(0f), 2.4e-7f);   // minimax: c0 = 1 + 7e-8
        Assert.Equal(0.5f, Exp2(-1f), 1.2e-7f);
    }

    [Fact]
    public void Single_precision_log_is_within_a_few_ulp_of_Math_Log()
    {
        double worst = 0;
        for (int i = 0; i <= 100_000; i++)
        {
            float x = MathF.Exp(-80f + 168f * i / 100_000f); // 1.8e-35 .. 1.7e38
            float got = SelectiveScanKernel<float>.LogFloat(Vector256.Create(x)).GetElement(5);
            double expected = Math.Log(x);
            worst = Math.Max(worst, Math.Abs(got - expected) / Math.Max(1e-30, Math.Abs(expected)));
        }
        Assert.True(worst < 4e-7, $"worst relative error {worst:G3}");
        Assert.Equal(0f, SelectiveScanKernel<float>.LogFloat(Vector256.Create(1f)).GetElement(0));
        Assert.True(Math.Abs(SelectiveScanKernel<float>.LogFloat(Vector256.Create(1.0001f)).GetElement(0) - Math.Log(1.0001f)) < 1e-10);
    }

    [Fact]
    public unsafe void Aligned_scratch_arrays_start_on_cache_lines_are_zero_and_do_not_overlap()
    {
        long[] lengths = [17, 1, 64, 3, 0, 100];
        using var scratch = new AlignedScratch<float>(lengths);
        for (int i = 0; i < lengths.Length; i++)
        {
            Assert.Equal(0, (nint)scratch[i] % 64);
            for (long j = 0; j < lengths[i]; j++) Assert.Equal(0f, scratch[i][j]);
            if (i + 1 < lengths.Length) Assert.True(scratch[i] + lengths[i] <= scratch[i + 1], $"array {i} runs into array {i + 1}");
        }
        for (int i = 0; i < lengths.Length; i++)
            for (long j = 0; j < lengths[i]; j++) scratch[i][j] = i + 1;                 // every array written whole ...
        for (int i = 0; i < lengths.Length; i++)
            for (long j = 0; j < lengths[i]; j++) Assert.Equal(i + 1f, scratch[i][j]);  // ... and read back unchanged
    }

    /// <summary>log(1 + t) in double: the series for small t (where 1 + t would round t away, as .NET's LogP1 does), else Math.Log.</summary>
    static double Log1p(double t) => t < 1e-4 ? t - t * t / 2 + t * t * t / 3 : Math.Log(1 + t);

    /// <summary>
    /// The 16-lane float softplus and sigmoid (the fused mixer's Δ and gate with AVX-512) against double-precision
    /// formulas: softplus within 4 ulp-ish relative error everywhere torch computes log1p(eˣ) and exactly x above torch's
    /// threshold 20; sigmoid within the same relative error, including its tiny values far below 0, with no overflow.
    /// </summary>
    [Fact]
    public void Wide_softplus_and_sigmoid_match_double_precision_formulas()
    {
        if (!Vector512.IsHardwareAccelerated) return;   // the 512-bit forms run only where 512-bit vectors do
        double worstSoftplus = 0, worstSigmoid = 0;
        for (int i = 0; i <= 400_000; i++)
        {
            float x = -100f + 140f * i / 400_000f;
            var lanes = Lanes512<float>.Broadcast(x);
            float softplus = Lanes512<float>.Softplus(lanes).V.GetElement(13), sigmoid = Lanes512<float>.Sigmoid(lanes).V.GetElement(2);
            double expectedSoftplus = x > 20 ? x : Log1p(Math.Exp((double)x)), expectedSigmoid = 1 / (1 + Math.Exp(-(double)x));
            if (x > 20) Assert.Equal(x, softplus);
            if (expectedSoftplus > 1.2e-38) worstSoftplus = Math.Max(worstSoftplus, Math.Abs(softplus - expectedSoftplus) / expectedSoftplus);
            if (expectedSigmoid > 1.2e-38) worstSigmoid = Math.Max(worstSigmoid, Math.Abs(sigmoid - expectedSigmoid) / expectedSigmoid);
        }
        Assert.True(worstSoftplus < 5e-7, $"softplus: worst relative error {worstSoftplus:G3}");
        Assert.True(worstSigmoid < 5e-7, $"sigmoid: worst relative error {worstSigmoid:G3}");
        foreach (float x in new[] { float.NegativeInfinity, -1000f, -104f, 1000f, float.PositiveInfinity })
        {
            var lanes = Lanes512<float>.Broadcast(x);
            float softplus = Lanes512<float>.Softplus(lanes).V.GetElement(0), sigmoid = Lanes512<float>.Sigmoid(lanes).V.GetElement(0);
            Assert.True(softplus == (x > 0 ? x : 0f) || Math.Abs(softplus - Math.Exp(x)) < 1e-44, $"softplus({x}) = {softplus}");
            Assert.True(sigmoid == (x > 0 ? 1f : 0f) || Math.Abs(sigmoid - Math.Exp(x)) < 1e-44, $"sigmoid({x}) = {sigmoid}");
        }
    }
}
