using MambaByte.Core.Diagnostics;
using System.Diagnostics;
using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Train.Compare;

/// <summary>
/// Measures bytes/s of generation at context positions: for each position one parallel prefill of that many bytes
/// (untimed) and one warm-up step, then single-byte steps through the model's own inference state (Mamba's
/// recurrent state, the Transformer's KV cache, MegaByte's two caches), as <see cref="ByteGenerator"/> runs them,
/// with the logits copied to the host every step as sampling would. The positions take turns in short rounds, so
/// a burst of load from other processes falls on all of them alike; each step is timed on its own and the median
/// step gives bytes/s. Steps run on <see cref="Threads"/> intra-op thread: a batch-1 step is a chain of tiny ops
/// that a second thread cannot speed up, and on a shared CPU its spinning workers made steps tens of times slower.
/// </summary>
public static class GenerationSpeed
{
    /// <summary>Intra-op threads while generation is timed (the previous setting is restored afterwards).</summary>
    public const int Threads = 1;

    const int Rounds = 16;

    public static IReadOnlyList<GenerationSpeedPoint> Measure(
        ByteLanguageModel model, ReadOnlySpan<byte> text, IReadOnlyList<long> positions, int bytes, CancellationToken cancellationToken = default)
    {
        if (positions.Count == 0 || positions.Any(p => p < 1)) throw new ArgumentException("generation positions: expected positive integers (a prompt of at least one byte)");
        if (bytes < 1) throw new ArgumentException($"generation bytes {bytes}: expected >= 1");
        if (text.Length == 0) throw new ArgumentException("generation speed needs some text to use as the prompt");
        Device device = ByteGenerator.ModelDevice(model);
        float[] row = new float[ByteLanguageModel.ByteVocabulary];
        using var inference = InferenceMode.Enter(model);
        var states = new List<IInferenceState>();
        int threadsBefore = get_num_threads();
        try
        {
            if (device.type == DeviceType.CPU) set_num_threads(Threads);
            // The prompt and the fed bytes repeat the text when it is shorter: speed does not depend on content.
            var ids = new List<long[]>();
            foreach (long position in positions)
            {
                long[] sequence = new long[position + 1 + bytes];
                for (long i = 0; i < sequence.Length; i++) sequence[i] = text[(int)(i % text.Length)];
                ids.Add(sequence);
                IInferenceState state = model.NewState(1);
                states.Add(state);
                using (var scope = NewDisposeScope())
                {
                    Tensor prompt = tensor(sequence.AsSpan(0, (int)position).ToArray(), [1, position], device: device);   // (1, position)
                    Tensor logits = model.Prefill(prompt, state);                                                            // (1, position, 256)
                    logits[0, -1].cpu().data<float>().CopyTo(row);
                }
                StepOnce(model, state, sequence[position], device, row);   // warm-up: first-step allocations stay untimed
            }

            var stepSeconds = positions.Select(_ => new double[bytes]).ToArray();
            int done = 0;
            while (done < bytes)
            {
                int chunk = Math.Min(bytes - done, Math.Max(1, bytes / Rounds));
                for (int k = 0; k < positions.Count; k++)
                    for (int i = done; i < done + chunk; i++)
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        long start = Stopwatch.GetTimestamp();
                        StepOnce(model, states[k], ids[k][positions[k] + 1 + i], device, row);
                        stepSeconds[k][i] = Stopwatch.GetElapsedTime(start).TotalSeconds;
                    }
                done += chunk;
            }
            return positions.Select((p, k) => new GenerationSpeedPoint(p, bytes, stepSeconds[k].Sum(), Spread.Of(stepSeconds[k]).Median, model.GenerationFlopsPerByte(p))).ToList();
        }
        finally
        {
            foreach (IInferenceState state in states) state.Dispose();
            if (get_num_threads() != threadsBefore) set_num_threads(threadsBefore);
        }
    }

    static void StepOnce(ByteLanguageModel model, IInferenceState state, long next, Device device, float[] row)
    {
        using var scope = NewDisposeScope();
        Tensor input = tensor(new[] { next }, [1], device: device);   // (1)
        Tensor logits = model.Step(input, state);                      // (1, 256)
        logits[0].cpu().data<float>().CopyTo(row);
    }
}
