using MambaByte.Tests.Support;
using MambaByte.Core.Native;
using MambaByte.Train.Training;
using static TorchSharp.torch;

namespace MambaByte.Tests.Jobs;

public sealed class OptimizerSetupTests
{
    [Fact]
    public void Matrices_decay_while_biases_and_vectors_do_not()
    {
        SingleThreadedTorch.Ensure();
        using var model = new RecurrentTestModel(4);
        (IReadOnlyList<string> decay, IReadOnlyList<string> noDecay) = OptimizerSetup.Groups(model);
        Assert.Equal(["embed.weight", "head.weight"], decay.Order().ToArray());
        Assert.Equal(["head.bias", "mix"], noDecay.Order().ToArray());
    }

    [Fact]
    public void Weight_decay_shrinks_only_the_decayed_group()
    {
        SingleThreadedTorch.Ensure();
        using var model = new RecurrentTestModel(4);
        var options = new TrainOptions { Lr = 0.1, WeightDecay = 0.5 };
        using var optimizer = OptimizerSetup.Create(model, options);
        using (no_grad())
        {
            foreach (var p in model.parameters()) p.fill_(1.0);
        }
        // Zero gradients: AdamW's update is then the decoupled decay alone, p ← p·(1 − lr·wd), only where decay applies.
        foreach (var p in model.parameters()) p.grad = zeros_like(p);
        optimizer.step();
        var values = model.named_parameters().ToDictionary(np => np.name, np => np.parameter.mean().item<float>());
        Assert.Equal(0.95f, values["embed.weight"], 6);
        Assert.Equal(0.95f, values["head.weight"], 6);
        Assert.Equal(1.0f, values["head.bias"], 6);
        Assert.Equal(1.0f, values["mix"], 6);
    }
}
