using MambaByte.Tests.Support;
using MambaByte.Train.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Tests.Jobs;

public sealed class BFloat16ShadowTests
{
    [Fact]
    public void Weights_go_down_as_bf16_and_gradients_come_back_up_to_the_fp32_masters()
    {
        // The trainer uses this only on CUDA; the mechanism itself is device-agnostic, so it is checked here.
        SingleThreadedTorch.Ensure();
        manual_seed(6);
        using var master = new RecurrentTestModel(4);
        using var working = new RecurrentTestModel(4);
        working.to(bfloat16);
        var shadow = new BFloat16Shadow(master, working);

        shadow.CopyWeightsDown();
        var masters = master.named_parameters().ToDictionary(np => np.name, np => np.parameter);
        foreach (var (name, p) in working.named_parameters())
        {
            Assert.Equal(ScalarType.BFloat16, p.dtype);
            Assert.True(p.to(float32).equal(masters[name].to(bfloat16).to(float32)).all().item<bool>(), name);
        }

        using var input = tensor(new long[] { 1, 2, 3, 4, 5, 6 }, [1, 6]);
        using var target = tensor(new long[] { 2, 3, 4, 5, 6, 7 }, [1, 6]);
        using Tensor loss = working.Loss(input, target);
        loss.backward();
        var expected = working.named_parameters().ToDictionary(np => np.name, np => np.parameter.grad!.to(float32));
        shadow.CopyGradientsUp();
        foreach (var (name, p) in master.named_parameters())
        {
            Assert.Equal(ScalarType.Float32, p.grad!.dtype);
            Assert.True(p.grad!.equal(expected[name]).all().item<bool>(), name);
            Assert.NotEqual(0.0, expected[name].abs().sum().item<float>());
        }
        Assert.All(working.parameters(), p => Assert.True(p.grad is null || p.grad.abs().sum().item<float>() == 0));
    }
}
