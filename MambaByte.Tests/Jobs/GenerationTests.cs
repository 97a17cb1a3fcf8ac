using MambaByte.Tests.Support;
using System.Text;
using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using MambaByte.Core.Native;
using static TorchSharp.torch;

namespace MambaByte.Tests.Jobs;

public sealed class GenerationTests
{
    /// <summary>Checks greedy generation against the argmax of a full forward over prompt + generated prefix at every step.</summary>
    internal static void AssertGreedyMatchesFullForward(ByteLanguageModel model, byte[] prompt, int count)
    {
        GenerationResult result = ByteGenerator.Generate(model, prompt, count, new SamplingOptions(Temperature: 0));
        Assert.Equal(count, result.Bytes.Length);
        using var noGrad = no_grad();
        model.eval();
        for (int i = 0; i < count; i++)
        {
            using var scope = NewDisposeScope();
            byte[] context = [.. prompt, .. result.Bytes[..i]];
            Tensor logits = model.forward(tensor(context.Select(b => (long)b).ToArray(), [1, context.Length]));   // (1, l, 256)
            Assert.Equal(logits[0, -1].argmax().item<long>(), result.Bytes[i]);
        }
    }

    [Fact]
    public void Greedy_generation_equals_the_argmax_of_the_full_forward_at_each_step()
    {
        SingleThreadedTorch.Ensure();
        manual_seed(3);
        using var model = new RecurrentTestModel(8);
        AssertGreedyMatchesFullForward(model, Encoding.UTF8.GetBytes("The "), 24);
    }

    [Fact]
    public void The_same_seed_generates_the_same_bytes()
    {
        SingleThreadedTorch.Ensure();
        manual_seed(4);
        using var model = new RecurrentTestModel(8);
        byte[] Run(ulong seed) => ByteGenerator.Generate(model, "x"u8, 40, new SamplingOptions(Temperature: 1, TopK: 50, TopP: 0.95, Seed: seed)).Bytes;
        Assert.Equal(Run(8), Run(8));
        Assert.NotEqual(Run(8), Run(9));
        var streamed = new List<byte>();
        byte[] direct = ByteGenerator.Generate(model, "x"u8, 40, new SamplingOptions(Temperature: 1, Seed: 8), streamed.Add).Bytes;
        Assert.Equal(direct, streamed);
    }
}
