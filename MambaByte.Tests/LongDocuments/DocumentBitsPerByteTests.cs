using System.Text.Json;
using MambaByte.Core.Checkpoints;
using MambaByte.Core.Evaluation;
using MambaByte.Core.Models;
using MambaByte.Data;
using MambaByte.Tests.Support;
using TorchSharp;
using MambaByte.Train;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Mamba;
using MambaByte.Core.Architectures.Transformer;

namespace MambaByte.Tests.LongDocuments;

/// <summary><c>eval --method document</c>: lm-evaluation-harness bits-per-byte, every byte of every document from the start state.</summary>
public sealed class DocumentBitsPerByteTests
{
    [Fact]
    public void Document_bits_per_byte_equals_a_byte_by_byte_sum_through_the_recurrent_step()
    {
        SingleThreadedTorch.Ensure();
        using MambaLMHeadModel model = LongDocumentFixtures.TinyMamba(21);
        byte[][] documents = [LongDocumentFixtures.Text(1, 1), LongDocumentFixtures.Text(37, 2), LongDocumentFixtures.Text(70, 3)];
        const byte start = 0x1E;

        double expected = LongDocumentFixtures.StepBits(model, documents, start);
        BitsPerByteResult result = BitsPerByteEvaluator.Document(model, documents.Select(d => (ReadOnlyMemory<byte>)d), context: 16, start, carryState: true);
        Assert.Equal(108, result.BytesScored);                                          // every byte, first bytes included
        Assert.Equal(3, result.Documents);
        Assert.Equal(expected, result.TotalBits, 1e-9);
        Assert.Equal(expected / 108, result.BitsPerByte, 1e-12);

        // Pooled over the corpus, each document alone: the sum of the documents scored one at a time.
        double separately = documents.Sum(d => BitsPerByteEvaluator.Document(model, [d], 16, start, carryState: true).TotalBits);
        Assert.Equal(result.TotalBits, separately, 1e-9);
    }

    [Theory]
    [InlineData(1, 8)]
    [InlineData(8, 8)]
    [InlineData(9, 8)]
    [InlineData(100, 16)]
    [InlineData(33, 1)]
    public void Harness_windows_score_every_byte_once_from_at_most_the_context(int length, int context)
    {
        var scored = new int[length + 1];
        EvaluationWindow[] windows = BitsPerByteEvaluator.DocumentWindows(length, context).ToArray();
        Assert.Equal((length + context - 1) / context, windows.Length);                   // no overlap in what is predicted
        foreach (EvaluationWindow w in windows)
        {
            Assert.InRange(w.Begin, 0, length);
            Assert.Equal(w == windows[0] ? Math.Min(context, length) : context, w.Length);  // later windows are full
            for (int t = w.FirstScoredTarget; t <= w.End; t++) scored[t]++;
        }
        Assert.Equal(0, scored[0]);                                                        // the start byte is never a target
        Assert.All(scored.Skip(1), count => Assert.Equal(1, count));
    }

    [Fact]
    public void Attention_models_score_documents_in_non_overlapping_windows_of_the_context()
    {
        SingleThreadedTorch.Ensure();
        manual_seed(4);
        using ByteLanguageModel model = new ByteTransformer(TransformerConfig.Tiny, seed: 4);
        model.to(float64);
        byte[] document = LongDocumentFixtures.Text(45, 9);
        const int context = 16;
        const byte start = (byte)'\n';

        // By hand: the prefixed bytes [start, document]; targets 1..16 from inputs 0..15, 17..32 from 16..31, and the
        // last 12 (33..45) from the 16 inputs 29..44, the harness's last window reaching back a full context.
        byte[] z = [start, .. document];
        double Bits(int begin, int firstTarget, int lastTarget)
        {
            double[] nats = LongDocumentFixtures.ForwardNats(model, z[begin..(begin + context)], z[(begin + 1)..(begin + context + 1)]);
            return Enumerable.Range(firstTarget, lastTarget - firstTarget + 1).Sum(t => nats[t - begin - 1]) / Math.Log(2);
        }
        double expected = Bits(0, 1, 16) + Bits(16, 17, 32) + Bits(29, 33, 45);

        BitsPerByteResult result = BitsPerByteEvaluator.Document(model, [document], context, start, carryState: false, batchSize: 2);
        Assert.Equal(45, result.BytesScored);
        Assert.Equal(expected, result.TotalBits, 1e-9);
    }

    [Fact]
    public void Eval_reports_the_document_method_beside_windowed_and_carried_state()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        byte[][] documents = [LongDocumentFixtures.Text(30, 31), LongDocumentFixtures.Text(50, 32)];
        string store = LongDocumentFixtures.Store(temp, documents, separator: 0x1E);
        string checkpoint = temp.File("mamba");
        using (ByteLanguageModel saved = new MambaLMHeadModel(MambaConfig.Tiny, 5)) ModelCheckpoint.Save(saved, checkpoint);

        var output = new StringWriter();
        var error = new StringWriter();
        int exit = Cli.Run(["eval", "--checkpoint", checkpoint, "--data", store, "--split", "train", "--context", "16", "--method", "all", "--json", "--device", "cpu"], output, error);
        Assert.True(exit == 0, error.ToString());
        using var json = JsonDocument.Parse(output.ToString());
        JsonElement[] rows = json.RootElement.GetProperty("results").EnumerateArray().ToArray();
        Assert.Equal(["windowed", "carried-state", "document"], rows.Select(r => r.GetProperty("method").GetString()));
        Assert.Equal(30 + 1 + 50 + 1 - 1, rows[0].GetProperty("bytes_scored").GetInt64());   // the stream, separators included
        Assert.Equal(80, rows[2].GetProperty("bytes_scored").GetInt64());                   // the documents' own bytes

        // The separator is the start byte; the figure is the byte-by-byte Step sum of the float32 model.
        using ByteLanguageModel model = ModelCheckpoint.Load(checkpoint, CPU);
        double expected = LongDocumentFixtures.StepBits(model, documents, 0x1E) / 80;
        Assert.Equal(expected, rows[2].GetProperty("bits_per_byte").GetDouble(), 1e-5);
    }
}
