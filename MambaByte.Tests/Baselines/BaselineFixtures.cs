using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using MambaByte.Core.Native;
using TorchSharp;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.MegaByte;
using MambaByte.Core.Architectures.Transformer;

namespace MambaByte.Tests.Baselines;

/// <summary>Tiny float64 baselines and the checks every architecture shares (causality, cached generation).</summary>
internal static class BaselineFixtures
{
    public static ByteTransformer TinyTransformer(bool tied = true, int seed = 11)
    {
        TorchRuntime.EnsureLoaded();
        var model = new ByteTransformer(new TransformerConfig { DModel = 16, NLayer = 2, NHead = 2, TieEmbeddings = tied, Seed = seed });
        model.to(float64);
        model.eval();
        return model;
    }

    public static MegaByteModel TinyMegaByte(int patchSize = 4, int seed = 11)
    {
        TorchRuntime.EnsureLoaded();
        var model = new MegaByteModel(new MegaByteConfig
        {
            PatchSize = patchSize, DGlobal = 8 * patchSize, NGlobalLayer = 2, NGlobalHead = 2,
            DLocal = 16, NLocalLayer = 2, NLocalHead = 2, MaxContext = 256, Seed = seed,
        });
        model.to(float64);
        model.eval();
        return model;
    }

    public static Tensor RandomBytes(long batch, long length, int seed) =>
        randint(0, ByteLanguageModel.ByteVocabulary, [batch, length], dtype: int64, generator: new Generator((ulong)seed));

    public static double MaxAbsDifference(Tensor a, Tensor b) => (a - b).abs().max().to_type(float64).item<double>();

    /// <summary>
    /// Perturbs byte <paramref name="t"/> of every sequence and returns the largest logit change before t
    /// (must be 0) and at t (must not be: the newest byte informs the prediction after it).
    /// </summary>
    public static (double Before, double At) PerturbationEffect(ByteLanguageModel model, Tensor bytes, long t)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor changed = bytes.clone();
        changed.select(1, t).copy_((bytes.select(1, t) + 97) % ByteLanguageModel.ByteVocabulary);
        Tensor original = model.forward(bytes), perturbed = model.forward(changed);
        double before = t == 0 ? 0.0 : MaxAbsDifference(original.narrow(1, 0, t), perturbed.narrow(1, 0, t));
        double at = MaxAbsDifference(original.select(1, t), perturbed.select(1, t));
        return (before, at);
    }

    /// <summary>Feeds <paramref name="bytes"/> one at a time through Step on a fresh state and stacks the logits (b, l, 256).</summary>
    public static Tensor StepThrough(ByteLanguageModel model, Tensor bytes, IInferenceState? state = null, long from = 0)
    {
        using var scope = NewDisposeScope();
        IInferenceState used = state ?? model.NewState((int)bytes.shape[0]);
        try
        {
            var logits = new List<Tensor>();
            for (long t = from; t < bytes.shape[1]; t++) logits.Add(model.Step(bytes.select(1, t), used));
            return stack(logits, 1).MoveToOuterDisposeScope();
        }
        finally
        {
            if (state is null) used.Dispose();
        }
    }
}
