using MambaByte.Core.Evaluation;
using MambaByte.Core.Models;
using MambaByte.Tests.Support;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.MegaByte;
using MambaByte.Core.Architectures.Transformer;

namespace MambaByte.Tests.Jobs;

/// <summary>The baselines through the same evaluator and generator as Mamba.</summary>
public sealed class BaselineJobTests
{
    static ByteLanguageModel Create(string arch) => arch switch
    {
        "transformer" => new ByteTransformer(TransformerConfig.Tiny, 21),
        _ => new MegaByteModel(MegaByteConfig.Tiny, 22),
    };

    [Theory]
    [InlineData("transformer")]
    [InlineData("megabyte")]
    public void Greedy_generation_equals_the_argmax_of_the_full_forward(string arch)
    {
        SingleThreadedTorch.Ensure();
        using ByteLanguageModel model = Create(arch);
        GenerationTests.AssertGreedyMatchesFullForward(model, "Let there be"u8.ToArray(), 10);
    }

    [Theory]
    [InlineData("transformer", 16, 16)]
    [InlineData("transformer", 16, 6)]
    [InlineData("megabyte", 16, 8)]
    public void Windowed_eval_scores_each_byte_once_with_the_context_of_its_window(string arch, int context, int stride)
    {
        // Independent per-target formulation: target t is scored by the first window (starting at a multiple of
        // the stride) that reaches it, so its context is x[k·stride, t) with k = max(0, ⌈(t − context) / stride⌉).
        SingleThreadedTorch.Ensure();
        using ByteLanguageModel model = Create(arch);
        model.eval();
        byte[] document = "In the beginning was the Word, and the Word was with God."u8.ToArray();
        double expected = 0;
        using (no_grad())
        {
            for (int t = 1; t < document.Length; t++)
            {
                using var scope = NewDisposeScope();
                int k = Math.Max(0, (t - context + stride - 1) / stride);
                long[] input = document[(k * stride)..t].Select(b => (long)b).ToArray();
                Tensor logits = model.forward(tensor(input, [1, input.Length]))[0, -1].to(float64);   // (256)
                expected -= nn.functional.log_softmax(logits, 0)[document[t]].item<double>() / Math.Log(2);
            }
        }
        BitsPerByteResult result = BitsPerByteEvaluator.Windowed(model, [document], context, stride, batchSize: 2);
        Assert.Equal(document.Length - 1, result.BytesScored);
        Assert.Equal(expected, result.TotalBits, 1e-3);
        Assert.Equal(expected / (document.Length - 1), result.BitsPerByte, 1e-5);
    }
}
