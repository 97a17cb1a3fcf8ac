using MambaByte.Core.Models;
using Fused = MambaByte.Core.Modules.Fused;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MambaByte.Train.Training;

/// <summary>
/// AdamW over two parameter groups: decayed (matrices) and exempt (biases, norms, A_log, D), as the model says. It is
/// <see cref="Fused.AdamW"/>: TorchSharp's AdamW with the update in one pass per parameter (same numbers, same checkpoints).
/// </summary>
public static class OptimizerSetup
{
    /// <summary>The names of the parameters in the decayed and the exempt group, in <c>named_parameters()</c> order.</summary>
    public static (IReadOnlyList<string> Decay, IReadOnlyList<string> NoDecay) Groups(ByteLanguageModel model)
    {
        var decay = new List<string>();
        var noDecay = new List<string>();
        foreach ((string name, Parameter p) in model.named_parameters())
        {
            if (!p.requires_grad) continue;
            (model.DecaysWeight(name, p) ? decay : noDecay).Add(name);
        }
        return (decay, noDecay);
    }

    public static AdamW Create(ByteLanguageModel model, TrainOptions options, IEnumerable<(string Name, Parameter Parameter)>? parameters = null)
    {
        var byName = (parameters ?? model.named_parameters().Select(np => (np.name, np.parameter))).ToDictionary(np => np.Item1, np => np.Item2);
        (IReadOnlyList<string> decay, IReadOnlyList<string> noDecay) = Groups(model);
        var groups = new List<AdamW.ParamGroup>
        {
            new(decay.Select(n => byName[n]), lr: options.Lr, beta1: options.Beta1, beta2: options.Beta2, eps: 1e-8, weight_decay: options.WeightDecay),
            new(noDecay.Select(n => byName[n]), lr: options.Lr, beta1: options.Beta1, beta2: options.Beta2, eps: 1e-8, weight_decay: 0),
        };
        return new Fused.AdamW(groups, lr: options.Lr, beta1: options.Beta1, beta2: options.Beta2, weightDecay: options.WeightDecay);
    }

    public static void SetLearningRate(OptimizerHelper optimizer, double lr)
    {
        foreach (var group in optimizer.ParamGroups) group.LearningRate = lr;
    }
}
