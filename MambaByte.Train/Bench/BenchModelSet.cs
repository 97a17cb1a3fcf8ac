using MambaByte.Core.Models;
using MambaByte.Core.Architectures.Mamba;
using MambaByte.Core.Architectures.MegaByte;
using MambaByte.Core.Architectures.Transformer;

namespace MambaByte.Train.Bench;

/// <summary>
/// Three models of about equal parameters benchmarked side by side, and the training contexts they run at.
/// <c>equal</c> is the plan's main set; <c>medium</c> adds a deeper Mamba (8 layers) of the size people train on a CPU.
/// </summary>
public sealed record BenchModelSet(string Name, MambaConfig Mamba, TransformerConfig Transformer, MegaByteConfig MegaByte, int[] Contexts)
{
    /// <summary>The set's models in bench order (Mamba, the reference, first).</summary>
    public IReadOnlyList<IModelConfig> Models => [Mamba, Transformer, MegaByte];

    /// <summary>The set's model of an architecture.</summary>
    public IModelConfig Config(string architecture) =>
        Models.FirstOrDefault(m => m.Architecture == architecture) ?? throw new ArgumentException($"bench: unknown architecture '{architecture}'");
}
