using MambaByte.Core.Models;
using MambaByte.Core.Native;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.MegaByte;
using MambaByte.Core.Architectures.Transformer;

namespace MambaByte.Tests.Baselines;

/// <summary>Each tiny baseline must learn: drive 2 KB of text below 1 bit per byte in a bounded number of AdamW steps.</summary>
public sealed class BaselineTrainingTests(ITestOutputHelper output)
{
    private const int Context = 64;
    private const double LearningRate = 1e-2;

    [Fact]
    public void Transformer_tiny_drives_2KB_of_text_below_one_bit_per_byte()
    {
        TorchRuntime.EnsureLoaded();
        using var model = new ByteTransformer(new TransformerConfig { DModel = 64, NLayer = 2, NHead = 4, Seed = 1 });
        double bitsPerByte = TrainThenMeasure(model, maxSteps: 500);
        Assert.True(bitsPerByte < 1.0, $"bits per byte {bitsPerByte:F3}");
    }

    [Fact]
    public void MegaByte_tiny_drives_2KB_of_text_below_one_bit_per_byte()
    {
        TorchRuntime.EnsureLoaded();
        using var model = new MegaByteModel(new MegaByteConfig
        {
            PatchSize = 4, DGlobal = 64, NGlobalLayer = 2, NGlobalHead = 2, DLocal = 64, NLocalLayer = 2, NLocalHead = 4, MaxContext = Context, Seed = 1,
        });
        double bitsPerByte = TrainThenMeasure(model, maxSteps: 500);
        Assert.True(bitsPerByte < 1.0, $"bits per byte {bitsPerByte:F3}");
    }

    /// <summary>
    /// AdamW on random windows until the whole-text bits per byte (measured every 25 steps, in windows of the
    /// training context) falls below 1 or <paramref name="maxSteps"/> run out; returns the last measurement.
    /// </summary>
    internal double TrainThenMeasure(ByteLanguageModel model, int maxSteps)
    {
        byte[] text = TrainingText.Bytes;
        using Tensor data = tensor(text.Select(b => (long)b).ToArray(), dtype: int64);
        var optimizer = optim.AdamW(model.parameters(), lr: LearningRate, beta1: 0.9, beta2: 0.95, weight_decay: 0.0);
        var random = new Random(0);
        double bitsPerByte = double.PositiveInfinity;
        int windows = (text.Length - 1) / Context;
        for (int step = 1; step <= maxSteps; step++)
        {
            model.train();
            using (var scope = NewDisposeScope())
            {
                // Every step covers (almost) the whole text: consecutive windows from a random start in the first window.
                int shift = random.Next(text.Length - 1 - windows * Context + 1);
                Tensor batch = stack(Enumerable.Range(0, windows).Select(w => data.narrow(0, shift + (long)w * Context, Context + 1)).ToArray());  // (w, ctx+1)
                optimizer.zero_grad();
                Tensor loss = model.Loss(batch.narrow(1, 0, Context), batch.narrow(1, 1, Context));
                loss.backward();
                optimizer.step();
            }
            if (step % 25 == 0)
            {
                bitsPerByte = BitsPerByte(model, data);
                output.WriteLine($"{model.Architecture} step {step}: {bitsPerByte:F3} bits/byte");
                if (bitsPerByte < 1.0) break;
            }
        }
        return bitsPerByte;
    }

    /// <summary>Mean next-byte cross-entropy over the whole text in bits, scored in consecutive windows of the training context.</summary>
    private static double BitsPerByte(ByteLanguageModel model, Tensor data)
    {
        model.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        double nats = 0;
        long scored = 0;
        for (long start = 0; start + 1 < data.shape[0]; start += Context)
        {
            long length = Math.Min(Context, data.shape[0] - 1 - start);
            Tensor input = data.narrow(0, start, length).unsqueeze(0), target = data.narrow(0, start + 1, length).unsqueeze(0);
            nats += model.Loss(input, target).to_type(float64).item<double>() * length;
            scored += length;
        }
        return nats / scored / Math.Log(2);
    }
}
