using System.Diagnostics;
using MambaByte.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Core.Generation;

/// <summary>
/// Generates bytes after a prompt with the model's own inference state: Mamba its recurrent state, the
/// Transformer its KV cache, MegaByte its two caches. The prompt goes through one parallel
/// <see cref="ByteLanguageModel.Prefill"/>; every new byte through one constant-size <see cref="ByteLanguageModel.Step"/>.
/// </summary>
public static class ByteGenerator
{
    public static GenerationResult Generate(
        ByteLanguageModel model, ReadOnlySpan<byte> prompt, int maxBytes, SamplingOptions sampling,
        Action<byte>? onByte = null, CancellationToken cancellationToken = default)
    {
        if (prompt.Length == 0) throw new ArgumentException("the prompt is empty: generation needs at least one byte to condition on");
        if (maxBytes < 0) throw new ArgumentException($"--max-bytes {maxBytes}: expected >= 0");
        var sampler = new ByteSampler(sampling);
        Device device = ModelDevice(model);
        var generated = new byte[maxBytes];
        float[] row = new float[ByteLanguageModel.ByteVocabulary];
        var clock = Stopwatch.StartNew();
        int count = 0;
        using (InferenceMode.Enter(model))
        {
            using IInferenceState state = model.NewState(1);
            using (var scope = NewDisposeScope())
            {
                long[] promptIds = new long[prompt.Length];
                for (int i = 0; i < prompt.Length; i++) promptIds[i] = prompt[i];
                Tensor input = tensor(promptIds, [1, prompt.Length], device: device);       // (1, l)
                Tensor logits = model.Prefill(input, state);                                 // (1, l, 256)
                CopyRow(logits[0, -1], row);
            }
            while (count < maxBytes)
            {
                cancellationToken.ThrowIfCancellationRequested();
                byte next = sampler.Next(row);
                generated[count++] = next;
                onByte?.Invoke(next);
                if (count == maxBytes) break;
                using var scope = NewDisposeScope();
                Tensor input = tensor(new long[] { next }, [1], device: device);            // (1)
                Tensor logits = model.Step(input, state);                                    // (1, 256)
                CopyRow(logits[0], row);
            }
        }
        return new GenerationResult(generated, clock.Elapsed);
    }

    public static Device ModelDevice(ByteLanguageModel model) =>
        model.parameters().FirstOrDefault()?.device ?? CPU;

    static void CopyRow(Tensor logits, float[] row)
    {
        using Tensor host = logits.to(float32).cpu();
        host.data<float>().CopyTo(row);
    }
}
