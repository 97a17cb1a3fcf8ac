using System.Text;
using MambaByte.Core.Models;
using MambaByte.Tests.Support;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Tests.Models;

public sealed class MambaLearningTests
{
    /// <summary>2 KB of English: sentences from a small set in a fixed pseudo-random order (entropy well below 1 bit/byte).</summary>
    static byte[] Text()
    {
        string[] sentences =
        [
            "The cat sat on the warm mat by the door. ",
            "A small bird sang in the old oak tree. ",
            "Rain fell softly over the quiet town. ",
            "She read the letter twice and smiled. ",
            "The river ran fast after the storm. ",
            "He packed bread, cheese and two apples. ",
            "Stars filled the sky above the hills. ",
            "The train left the station at noon. ",
        ];
        var text = new StringBuilder();
        uint state = 12345;
        while (text.Length < 2048)
        {
            state = state * 1664525 + 1013904223;
            text.Append(sentences[(state >> 16) % (uint)sentences.Length]);
        }
        return Encoding.ASCII.GetBytes(text.ToString()[..2048]);
    }

    static double BitsPerByte(ByteLanguageModel model, Tensor data)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor input = data[..^1].unsqueeze(0), target = data[1..].unsqueeze(0);
        return model.Loss(input, target).item<float>() / Math.Log(2);
    }

    [Fact]
    public void Tiny_model_learns_a_2KB_text_below_one_bit_per_byte()
    {
        SingleThreadedTorch.Ensure();
        byte[] bytes = Text();
        Assert.Equal(2048, bytes.Length);
        using var data = tensor(bytes.Select(b => (long)b).ToArray());
        using var model = new MambaLMHeadModel(new MambaConfig { DModel = 64, NLayer = 2, DState = 8 }, seed: 1);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        double before = BitsPerByte(model, data);
        Assert.InRange(before, 7.0, 9.0);   // untrained: about log2(256) = 8

        var named = model.named_parameters().ToList();
        var groups = new List<AdamW.ParamGroup>
        {
            new(named.Where(p => model.DecaysWeight(p.name, p.parameter)).Select(p => p.parameter), lr: 3e-3, weight_decay: 0.1),
            new(named.Where(p => !model.DecaysWeight(p.name, p.parameter)).Select(p => p.parameter), lr: 3e-3, weight_decay: 0.0),
        };
        using var optimizer = optim.AdamW(groups, lr: 3e-3);
        var rng = new Random(7);
        const int Steps = 300, Batch = 8, Window = 64;
        double after = double.NaN;
        int step;
        for (step = 1; step <= Steps; step++)
        {
            using var scope = NewDisposeScope();
            long[] starts = Enumerable.Range(0, Batch).Select(_ => (long)rng.Next(0, bytes.Length - Window - 1)).ToArray();
            Tensor windows = stack(starts.Select(s => data.narrow(0, s, Window + 1)).ToArray());   // (batch, window+1)
            optimizer.zero_grad();
            Tensor loss = model.Loss(windows[.., ..^1], windows[.., 1..]);
            loss.backward();
            nn.utils.clip_grad_norm_(model.parameters(), 1.0);
            optimizer.step();
            if (step >= 30 && step % 10 == 0 && (after = BitsPerByte(model, data)) < 1.0) break;
        }
        Assert.True(after < 1.0, $"bits per byte after {Steps} steps: {after:F3} (before {before:F3})");
        Console.WriteLine($"learned to {after:F3} bits/byte in {step} steps, {sw.ElapsedMilliseconds} ms");
    }
}
