using MambaByte.Core.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Tests.Foundation;

public sealed class TorchSharpSmokeTests
{
    [Fact]
    public void Autograd_gradient_equals_the_analytic_gradient()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        var gen = new Generator(7);
        Tensor x = randn([5, 3], dtype: float64, generator: gen).requires_grad_();
        Tensor y = randn([5, 3], dtype: float64, generator: gen).requires_grad_();

        // f = Σ x³ + sin(x)·y + exp(−x·y)
        Tensor f = (x.pow(3) + x.sin() * y + (-(x * y)).exp()).sum();
        f.backward();

        Tensor expectX = 3 * x.detach().pow(2) + x.detach().cos() * y.detach() - y.detach() * (-(x.detach() * y.detach())).exp();
        Tensor expectY = x.detach().sin() - x.detach() * (-(x.detach() * y.detach())).exp();
        Assert.True(x.grad!.allclose(expectX, rtol: 1e-12, atol: 1e-12));
        Assert.True(y.grad!.allclose(expectY, rtol: 1e-12, atol: 1e-12));
        Assert.NotEqual(0.0, expectX.abs().sum().item<double>());
    }

    [Fact]
    public void Device_option_parses_cpu_and_rejects_the_rest_clearly()
    {
        TorchRuntime.EnsureLoaded();
        Assert.Equal(DeviceType.CPU, DeviceOption.Parse("cpu").type);
        Assert.Equal(DeviceType.CPU, DeviceOption.Parse(" CPU ").type);
        if (!cuda.is_available())
        {
            Assert.Equal(DeviceType.CPU, DeviceOption.Parse("auto").type);
            Assert.Contains("CUDA is not available", Assert.Throws<ArgumentException>(() => DeviceOption.Parse("cuda:0")).Message);
        }
        Assert.Contains("expected cpu", Assert.Throws<ArgumentException>(() => DeviceOption.Parse("tpu")).Message);
    }
}
