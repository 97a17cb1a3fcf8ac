using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using MambaByte.Data;
using MambaByte.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Tests.LongDocuments;

/// <summary>Shared pieces of the long-document tests: small stores of known documents and plain reference sums.</summary>
internal static class LongDocumentFixtures
{
    public static byte[] Text(int n, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => (byte)random.Next(32, 127)).ToArray();
    }

    /// <summary>A prepared store whose train split holds <paramref name="documents"/> in this order (no separator unless given).</summary>
    public static string Store(TempDir temp, IReadOnlyList<byte[]> documents, int? separator = null)
    {
        string source = temp.File("corpus");
        Directory.CreateDirectory(Path.Combine(source, "train"));
        for (int i = 0; i < documents.Count; i++)
            File.WriteAllBytes(Path.Combine(source, "train", $"{i:D3}.txt"), documents[i]);
        string store = temp.File("store");
        StorePreparer.Prepare(new PrepareRequest([source], store, Separator: separator));
        return store;
    }

    /// <summary>A tiny float64 Mamba (the scans match to 1e-10 in float64).</summary>
    public static MambaLMHeadModel TinyMamba(long seed)
    {
        var model = new MambaLMHeadModel(MambaConfig.Tiny, seed);
        model.to(float64);
        return model;
    }

    /// <summary>−ln p of every target of one plain forward from a zero state (inputs and targets of equal length).</summary>
    public static double[] ForwardNats(ByteLanguageModel model, byte[] inputs, byte[] targets)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor input = tensor(inputs.Select(b => (long)b).ToArray(), [1, inputs.Length]);
        Tensor logp = nn.functional.log_softmax(model.forward(input).to(float64), -1)[0];      // (l, 256)
        double[] values = logp.data<double>().ToArray();
        return targets.Select((t, j) => -values[j * 256 + t]).ToArray();
    }

    /// <summary>
    /// The independent document-level reference: each document through the recurrent <see cref="ByteLanguageModel.Step"/>
    /// one byte at a time from a fresh state, the start byte first, Σ −log2 p over every byte of every document.
    /// </summary>
    public static double StepBits(ByteLanguageModel model, IEnumerable<byte[]> documents, byte startByte)
    {
        double bits = 0;
        foreach (byte[] document in documents)
        {
            using IInferenceState state = model.NewState(1);
            byte previous = startByte;
            foreach (byte next in document)
            {
                using var scope = NewDisposeScope();
                Tensor logits = model.Step(tensor(new long[] { previous }), state).to(float64);   // (1, 256)
                bits -= nn.functional.log_softmax(logits, -1)[0, next].item<double>() / Math.Log(2);
                previous = next;
            }
        }
        return bits;
    }
}
