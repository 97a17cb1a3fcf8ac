using MambaByte.Tests.Support;
using MambaByte.Core.Evaluation;
using MambaByte.Core.Models;
using MambaByte.Core.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Tests.Jobs;

public sealed class EvaluationTests
{
    /// <summary>The independent reference: Σ_{t=1..n−1} −log2 p(x_t | x_&lt;t) from one plain forward over the whole document.</summary>
    internal static double FullForwardBits(ByteLanguageModel model, byte[] document)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        model.eval();
        Tensor input = tensor(document[..^1].Select(b => (long)b).ToArray(), [1, document.Length - 1]);
        Tensor logits = model.forward(input).to(float64);                          // (1, n-1, 256)
        double[] logp = nn.functional.log_softmax(logits, -1)[0].data<double>().ToArray();
        double bits = 0;
        for (int t = 1; t < document.Length; t++) bits -= logp[(t - 1) * 256 + document[t]] / Math.Log(2);
        return bits;
    }

    static byte[] Document(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (byte)random.Next(32, 127)).ToArray();
    }

    [Theory]
    [InlineData(100, 16, 16)]
    [InlineData(100, 16, 5)]
    [InlineData(17, 16, 3)]
    [InlineData(2, 4, 4)]
    [InlineData(1000, 64, 48)]
    public void Windows_score_every_target_exactly_once(int length, int context, int stride)
    {
        var scored = new int[length];
        foreach (EvaluationWindow w in BitsPerByteEvaluator.Windows(length, context, stride))
        {
            Assert.InRange(w.Length, 1, context);
            Assert.InRange(w.FirstScoredOffset, 0, w.Length - 1);
            for (int t = w.FirstScoredTarget; t <= w.End; t++) scored[t]++;
        }
        Assert.Equal(0, scored[0]);
        Assert.All(scored.Skip(1), count => Assert.Equal(1, count));
    }

    [Theory]
    [InlineData(16, 16)]
    [InlineData(16, 5)]
    [InlineData(7, 1)]
    public void Windowed_eval_of_a_bigram_model_equals_the_full_forward(int context, int stride)
    {
        // A bigram's prediction needs only the previous byte, which every scored position has in its window,
        // so the windowed sum must equal the full forward's if each byte is scored once.
        SingleThreadedTorch.Ensure();
        manual_seed(1);
        using var model = new RecurrentTestModel(8, memory: false);
        model.to(float64);
        byte[] document = Document(203, 1);
        double expected = FullForwardBits(model, document);
        BitsPerByteResult result = BitsPerByteEvaluator.Windowed(model, [document, document.AsMemory(0, 50)], context, stride, batchSize: 3);
        double expectedShort = FullForwardBits(model, document[..50]);
        Assert.Equal(202 + 49, result.BytesScored);
        Assert.Equal(expected + expectedShort, result.TotalBits, 1e-9);
        Assert.Equal((expected + expectedShort) / 251, result.BitsPerByte, 1e-12);
    }

    [Fact]
    public void Carried_state_eval_equals_the_full_forward_of_a_recurrent_model()
    {
        SingleThreadedTorch.Ensure();
        manual_seed(2);
        using var model = new RecurrentTestModel(8, memory: true);
        model.to(float64);
        byte[] document = Document(150, 2);
        double expected = FullForwardBits(model, document);
        BitsPerByteResult carried = BitsPerByteEvaluator.CarriedState(model, [document], chunk: 16);
        Assert.Equal(149, carried.BytesScored);
        Assert.Equal(expected / 149, carried.BitsPerByte, 1e-12);

        // Windows cut the recurrent model's history, so their score differs from the carried one.
        BitsPerByteResult windowed = BitsPerByteEvaluator.Windowed(model, [document], 16, 16);
        Assert.Equal(149, windowed.BytesScored);
        Assert.NotEqual(carried.TotalBits, windowed.TotalBits, 6);
    }
}
