using MambaByte.Core.Models;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MambaByte.Train.Training;

/// <summary>
/// bf16 training by hand (TorchSharp has no autocast): the optimizer owns fp32 master weights; a bf16 copy of the
/// model runs forward and backward; before each step the master weights are copied into the copy, and after
/// backward its gradients are copied back up to fp32 for clipping and the AdamW update. The same on the CPU (where
/// <c>--dtype auto</c> picks it when the bf16 matmul measures faster) and on CUDA.
/// </summary>
public sealed class BFloat16Shadow
{
    readonly List<(Parameter Master, Parameter Working)> pairs;

    public BFloat16Shadow(ByteLanguageModel master, ByteLanguageModel working)
    {
        Working = working;
        var workingByName = working.named_parameters().ToDictionary(np => np.name, np => np.parameter);
        pairs = master.named_parameters().Select(np => (np.parameter, workingByName[np.name])).ToList();
    }

    public ByteLanguageModel Working { get; }

    public void CopyWeightsDown()
    {
        using var noGrad = no_grad();
        foreach ((Parameter master, Parameter working) in pairs) working.copy_(master);
    }

    public void CopyGradientsUp()
    {
        foreach ((Parameter master, Parameter working) in pairs)
        {
            using Tensor? g = working.grad;
            if (g is null) continue;
            using Tensor? existing = master.grad;
            if (existing is null) master.grad = g.to(master.dtype);
            else existing.copy_(g);
        }
        Working.zero_grad();
    }
}
