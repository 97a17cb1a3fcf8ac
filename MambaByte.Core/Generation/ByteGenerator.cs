using System.Diagnostics;
using MambaByte.Core.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Core.Generation;

/// <summary>
/// Generates bytes after a prompt with the model's own inference state: Mamba its recurrent state, the
/// Transformer its KV cache, MegaByte its two caches. The prompt goes through one parallel
/// <see cref="ByteLanguageModel.Prefill"/>; every new byte through one constant-size step
/// (<see cref="ByteLanguageModel.StepInto"/>). <see cref="GenerateBatch"/> steps several sequences at once.
/// </summary>
public static class ByteGenerator
{
    public static GenerationResult Generate(
        ByteLanguageModel model, ReadOnlySpan<byte> prompt, int maxBytes, SamplingOptions sampling,
        Action<byte>? onByte = null, CancellationToken cancellationToken = default)
    {
        Action<int, byte>? each = onByte is null ? null : (_, b) => onByte(b);
        return GenerateBatch(model, [prompt.ToArray()], maxBytes, sampling, each, cancellationToken)[0];
    }

    /// <summary>
    /// Generates <paramref name="maxBytes"/> bytes after each prompt, all sequences stepped together as one batch
    /// (one weight pass per byte for all of them). Seed rule: sequence i samples with its own generator seeded
    /// <c>sampling.Seed + i</c>, so sequence i equals <see cref="Generate"/> of its prompt alone with that seed
    /// (for Mamba's fused step bit for bit: each prompt is prefilled alone and the step's sums do not depend on
    /// the batch). Prompts of different lengths: Mamba prefills each alone into its row of the batch state; the
    /// attention models run each group of equal-length prompts as its own batch. Every result carries the wall time
    /// of the whole call.
    /// </summary>
    public static IReadOnlyList<GenerationResult> GenerateBatch(
        ByteLanguageModel model, IReadOnlyList<byte[]> prompts, int maxBytes, SamplingOptions sampling,
        Action<int, byte>? onByte = null, CancellationToken cancellationToken = default)
    {
        if (prompts.Count == 0) throw new ArgumentException("no prompts: generation needs at least one");
        foreach (byte[] prompt in prompts)
            if (prompt.Length == 0) throw new ArgumentException("a prompt is empty: generation needs at least one byte to condition on");
        if (maxBytes < 0) throw new ArgumentException($"--max-bytes {maxBytes}: expected >= 0");
        sampling.Validate();
        var clock = Stopwatch.StartNew();
        var generated = new byte[prompts.Count][];
        using (InferenceMode.Enter(model))
        {
            if (LoadsRows(model) || prompts.All(p => p.Length == prompts[0].Length))
                Run(model, prompts, [.. Enumerable.Range(0, prompts.Count)], maxBytes, sampling, onByte, generated, cancellationToken);
            else
                foreach (var group in Enumerable.Range(0, prompts.Count).GroupBy(i => prompts[i].Length))
                    Run(model, prompts, [.. group], maxBytes, sampling, onByte, generated, cancellationToken);
        }
        TimeSpan elapsed = clock.Elapsed;
        return [.. generated.Select(bytes => new GenerationResult(bytes, elapsed))];
    }

    /// <summary>Generates for the prompts at <paramref name="indices"/> as one batch, writing generated[index].</summary>
    static void Run(
        ByteLanguageModel model, IReadOnlyList<byte[]> prompts, int[] indices, int maxBytes, SamplingOptions sampling,
        Action<int, byte>? onByte, byte[][] generated, CancellationToken cancellationToken)
    {
        const int V = ByteLanguageModel.ByteVocabulary;
        int batch = indices.Length;
        var samplers = indices.Select(i => new ByteSampler(sampling with { Seed = unchecked(sampling.Seed + (ulong)i) })).ToArray();
        foreach (int i in indices) generated[i] = new byte[maxBytes];
        float[] rows = new float[batch * V];
        using IInferenceState state = model.NewState(batch);
        Prefill(model, [.. indices.Select(i => prompts[i])], state, rows);
        var next = new byte[batch];
        for (int count = 0; count < maxBytes; count++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            for (int b = 0; b < batch; b++)
            {
                next[b] = samplers[b].Next(rows.AsSpan(b * V, V));
                generated[indices[b]][count] = next[b];
                onByte?.Invoke(indices[b], next[b]);
            }
            if (count + 1 < maxBytes) model.StepInto(next, state, rows);
        }
    }

    /// <summary>Runs the prompts into the state and writes each one's last logits into its row.</summary>
    static void Prefill(ByteLanguageModel model, byte[][] prompts, IInferenceState state, float[] rows)
    {
        const int V = ByteLanguageModel.ByteVocabulary;
        Device device = ModelDevice(model);
        if (state is IRowLoadableState rowState)
        {
            // Each prompt alone (any lengths, and the same numbers as generating it alone), copied into its row.
            for (int b = 0; b < prompts.Length; b++)
            {
                using var scope = NewDisposeScope();
                using IInferenceState single = model.NewState(1);
                Tensor logits = model.Prefill(Ids(prompts[b], 1, device), single);                     // (1, l, 256)
                CopyRow(logits[0, -1], rows.AsSpan(b * V, V));
                rowState.LoadRow(b, single);
            }
            rowState.Advance(prompts.Max(p => p.Length));
            return;
        }
        using (var scope = NewDisposeScope())
        {
            byte[] all = [.. prompts.SelectMany(p => p)];
            Tensor logits = model.Prefill(Ids(all, prompts.Length, device), state);                    // (b, l, 256)
            for (int b = 0; b < prompts.Length; b++) CopyRow(logits[b, -1], rows.AsSpan(b * V, V));
        }
    }

    /// <summary>Whether the model's state takes prompts of any lengths in one batch (<see cref="IRowLoadableState"/>).</summary>
    static bool LoadsRows(ByteLanguageModel model)
    {
        using IInferenceState probe = model.NewState(1);
        return probe is IRowLoadableState;
    }

    static Tensor Ids(byte[] bytes, int batch, Device device)
    {
        long[] ids = new long[bytes.Length];
        for (int i = 0; i < ids.Length; i++) ids[i] = bytes[i];
        return tensor(ids, [batch, bytes.Length / batch], device: device);                           // (b, l)
    }

    public static Device ModelDevice(ByteLanguageModel model) =>
        model.parameters().FirstOrDefault()?.device ?? CPU;

    static void CopyRow(Tensor logits, Span<float> row)
    {
        using Tensor host = logits.to(float32).cpu();
        host.data<float>().CopyTo(row);
    }
}
