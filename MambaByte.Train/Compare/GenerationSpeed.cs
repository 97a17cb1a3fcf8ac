using System.Diagnostics;
using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using static TorchSharp.torch;

namespace MambaByte.Train.Compare;

/// <summary>
/// Measures bytes/s of generation at a context position: one parallel prefill of the first <c>position</c> bytes
/// (untimed), one warm-up step, then <c>bytes</c> timed single-byte steps through the model's own inference state
/// (Mamba's recurrent state, the Transformer's KV cache, MegaByte's two caches), as <see cref="ByteGenerator"/> runs them;
/// each step is timed on its own and the median step gives bytes/s.
/// The logits are copied to the host every step, as sampling would.
/// </summary>
public static class GenerationSpeed
{
    public static GenerationSpeedPoint Measure(ByteLanguageModel model, ReadOnlySpan<byte> text, long position, int bytes, CancellationToken cancellationToken = default)
    {
        if (position < 1) throw new ArgumentException($"generation position {position}: expected >= 1 (a prompt of at least one byte)");
        if (bytes < 1) throw new ArgumentException($"generation bytes {bytes}: expected >= 1");
        if (text.Length == 0) throw new ArgumentException("generation speed needs some text to use as the prompt");
        Device device = ByteGenerator.ModelDevice(model);
        // The prompt and fed bytes repeat the text when it is shorter than the position: speed does not depend on content.
        long[] ids = new long[position + 1 + bytes];
        for (long i = 0; i < ids.Length; i++) ids[i] = text[(int)(i % text.Length)];
        float[] row = new float[ByteLanguageModel.ByteVocabulary];
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            using IInferenceState state = model.NewState(1);
            using (var scope = NewDisposeScope())
            {
                Tensor prompt = tensor(ids.AsSpan(0, (int)position).ToArray(), [1, position], device: device);   // (1, position)
                Tensor logits = model.Prefill(prompt, state);                                                       // (1, position, 256)
                logits[0, -1].cpu().data<float>().CopyTo(row);
            }
            StepOnce(model, state, ids[position], device, row);              // warm-up: first-step allocations stay untimed
            var stepSeconds = new double[bytes];
            for (int i = 0; i < bytes; i++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                long start = Stopwatch.GetTimestamp();
                StepOnce(model, state, ids[position + 1 + i], device, row);
                stepSeconds[i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
            }
            return new GenerationSpeedPoint(position, bytes, stepSeconds.Sum(), Median(stepSeconds), model.GenerationFlopsPerByte(position));
        }
        finally
        {
            model.train(wasTraining);
        }
    }

    /// <summary>The middle value (the mean of the two middle ones for an even count).</summary>
    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("the median of no values");
        double[] sorted = values.Order().ToArray();
        int half = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[half] : (sorted[half - 1] + sorted[half]) / 2;
    }

    static void StepOnce(ByteLanguageModel model, IInferenceState state, long next, Device device, float[] row)
    {
        using var scope = NewDisposeScope();
        Tensor input = tensor(new[] { next }, [1], device: device);   // (1)
        Tensor logits = model.Step(input, state);                      // (1, 256)
        logits[0].cpu().data<float>().CopyTo(row);
    }
}
