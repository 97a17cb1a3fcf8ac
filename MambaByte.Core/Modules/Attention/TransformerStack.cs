using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MambaByte.Core.Modules.Attention;

/// <summary>
/// A stack of <see cref="TransformerBlock"/>s and the final RMSNorm: the byte Transformer's body and each of
/// MegaByte's two models.
/// </summary>
public sealed class TransformerStack : nn.Module
{
    private readonly ModuleList<TransformerBlock> layers;
    private readonly RMSNorm norm_f;

    public TransformerStack(int width, int layerCount, int headCount, int mlpHidden, double ropeTheta, double normEpsilon, double dropout, string name = "stack")
        : base(name)
    {
        layers = new ModuleList<TransformerBlock>();
        for (int i = 0; i < layerCount; i++)
            layers.Add(new TransformerBlock(width, headCount, mlpHidden, ropeTheta, normEpsilon, dropout));
        norm_f = new RMSNorm(width, normEpsilon);
        RegisterComponents();
    }

    public int LayerCount => layers.Count;

    /// <summary>
    /// <paramref name="x"/> (b, l, width) → normalised (b, l, width). With <paramref name="caches"/> (one per
    /// layer) the positions continue from the caches and the new keys and values are appended.
    /// </summary>
    public Tensor Forward(Tensor x, IReadOnlyList<KvCache>? caches)
    {
        if (caches is not null && caches.Count != layers.Count)
            throw new ArgumentException($"expected {layers.Count} KV caches, got {caches.Count}");
        using var scope = NewDisposeScope();
        Tensor h = x;
        for (int i = 0; i < layers.Count; i++)
            h = layers[i].Forward(h, caches?[i]);
        return norm_f.forward(h).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// nanoGPT initialisation: every matrix N(0, 0.02), the residual output projections N(0, 0.02/√(2·n_layer))
    /// so the residual stream's variance does not grow with depth; norm weights stay 1.
    /// </summary>
    public void Initialise(Generator generator)
    {
        double residualStd = 0.02 / Math.Sqrt(2.0 * layers.Count);
        using var noGrad = no_grad();
        foreach (var (name, parameter) in named_parameters())
        {
            if (parameter.dim() < 2) continue;
            bool residual = name.EndsWith("out_proj.weight", StringComparison.Ordinal) || name.EndsWith("down_proj.weight", StringComparison.Ordinal);
            parameter.normal_(0.0, residual ? residualStd : 0.02, generator);
        }
    }
}
