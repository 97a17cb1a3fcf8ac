using static TorchSharp.torch;

namespace MambaByte.Core.Models;

/// <summary>
/// Evaluation mode with autograd off for the lifetime of a <c>using</c>, then the model's previous mode back:
/// what evaluation, generation and speed measurement each need around their loops.
/// </summary>
public sealed class InferenceMode : IDisposable
{
    readonly nn.Module model;
    readonly bool wasTraining;
    readonly IDisposable noGrad;

    InferenceMode(nn.Module model)
    {
        this.model = model;
        wasTraining = model.training;
        model.eval();
        noGrad = no_grad();
    }

    public static InferenceMode Enter(nn.Module model) => new(model);

    public void Dispose()
    {
        noGrad.Dispose();
        model.train(wasTraining);
    }
}
