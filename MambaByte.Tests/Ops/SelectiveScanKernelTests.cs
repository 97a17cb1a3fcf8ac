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

    [Fact]
    public void Base_2_decay_exponential_is_within_two_ulp_of_Math_Pow_and_clamps_to_a_normal_float()
    {
        double worst = 0;
        for (int i = 0; i <= 200_000; i++)
        {
            float y = -125f + 140f * i / 200_000f; // [-125, 15]: Δ·A·log₂e of the decays (and a little above 0)
            float got = SelectiveScanKernel<float>.Exp2Float(Vector256.Create(y)).GetElement(6);
            double expected = Math.Pow(2, y);
            worst = Math.Max(worst, Math.Abs(got - expected) / expected);
        }
        Assert.True(worst < 2.4e-7, $"worst relative error {worst:G3}");
        float floor = SelectiveScanKernel<float>.Exp2Float(Vector256.Create(-1000f)).GetElement(0);
        Assert.True(float.IsNormal(floor) && floor < 3e-38f, $"2^-1000 gave {floor}");
        Assert.Equal(1f, SelectiveScanKernel<float>.Exp2Float(Vector256.Create(0f)).GetElement(0), 2.4e-7f);   // minimax: c0 = 1 + 7e-8
        Assert.Equal(0.5f, SelectiveScanKernel<float>.Exp2Float(Vector256.Create(-1f)).GetElement(0), 1.2e-7f);
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
}
