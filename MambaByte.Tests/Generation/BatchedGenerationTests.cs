using System.Text;
using MambaByte.Core.Checkpoints;
using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using MambaByte.Tests.Support;
using MambaByte.Train;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Tests.Generation;

/// <summary>Several sequences stepped as one batch against each generated alone (seed rule: sequence i uses seed + i).</summary>
public sealed class BatchedGenerationTests
{
    static MambaConfig Config => new() { DModel = 24, NLayer = 2, DState = 6 };

    [Theory]
    [InlineData(1.0, 0, 1.0)]
    [InlineData(0.0, 0, 1.0)]
    [InlineData(0.9, 40, 0.95)]
    public void Each_batched_sequence_equals_generating_it_alone_with_seed_plus_index(double temperature, int topK, double topP)
    {
        SingleThreadedTorch.Ensure();
        using var model = new MambaLMHeadModel(Config, seed: 3);
        byte[][] prompts = [.. new[] { "And God said", "x", "In the beginning God created", "x", "Let there be" }.Select(Encoding.UTF8.GetBytes)];
        var sampling = new SamplingOptions(temperature, topK, topP, Seed: 100);
        IReadOnlyList<GenerationResult> batched = ByteGenerator.GenerateBatch(model, prompts, 60, sampling);
        Assert.Equal(prompts.Length, batched.Count);
        for (int i = 0; i < prompts.Length; i++)
        {
            byte[] alone = ByteGenerator.Generate(model, prompts[i], 60, sampling with { Seed = 100 + (ulong)i }).Bytes;
            Assert.Equal(alone, batched[i].Bytes);
        }
        if (temperature > 0) Assert.NotEqual(batched[1].Bytes, batched[3].Bytes);                 // same prompt, seeds 101 and 103
    }

    [Fact]
    public void Batched_logits_equal_single_sequence_logits_bit_for_bit()
    {
        SingleThreadedTorch.Ensure();
        using var model = new MambaLMHeadModel(Config with { DModel = 40 }, seed: 5);
        using var together = model.NewState(6);
        var singles = Enumerable.Range(0, 6).Select(_ => model.NewState(1)).ToArray();
        var rows = new float[6 * 256];
        var row = new float[256];
        var random = new Random(9);
        for (int t = 0; t < 50; t++)
        {
            var bytes = new byte[6];
            random.NextBytes(bytes);
            model.StepInto(bytes, together, rows);
            for (int b = 0; b < 6; b++)
            {
                model.StepInto([bytes[b]], singles[b], row);
                Assert.Equal(row, rows.AsSpan(b * 256, 256).ToArray());
            }
        }
        foreach (var s in singles) s.Dispose();
    }

    [Fact]
    public void Splitting_the_products_and_the_scan_over_cores_changes_no_bit()
    {
        SingleThreadedTorch.Ensure();
        using var model = new MambaLMHeadModel(Config with { DModel = 36, DState = 5 }, seed: 6);
        using var serial = model.NewState(5);
        using var split = model.NewState(5);
        var a = new float[5 * 256];
        var b = new float[5 * 256];
        var random = new Random(3);
        long saved = FusedMambaDecoder.ParallelThreshold;
        try
        {
            for (int t = 0; t < 40; t++)
            {
                var bytes = new byte[5];
                random.NextBytes(bytes);
                FusedMambaDecoder.ParallelThreshold = long.MaxValue;
                model.StepInto(bytes, serial, a);
                FusedMambaDecoder.ParallelThreshold = 0;                                       // every product and scan split over the cores
                model.StepInto(bytes, split, b);
                Assert.Equal(a, b);
            }
        }
        finally
        {
            FusedMambaDecoder.ParallelThreshold = saved;
        }
    }

    [Fact]
    public void Generate_command_prints_every_prompt_and_sample_with_its_seed()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string dir = temp.File("mamba");
        using (var saved = new MambaLMHeadModel(Config, seed: 7)) ModelCheckpoint.Save(saved, dir);
        string prompts = temp.File("prompts.txt");
        File.WriteAllText(prompts, "first prompt\r\n\nsecond\n");
        var output = new StringWriter();
        var error = new StringWriter();
        int exit = Cli.Run(["generate", "--checkpoint", dir, "--prompts-file", prompts, "--num-samples", "2", "--max-bytes", "10", "--seed", "3", "--top-k", "20", "--device", "cpu"], output, error);
        Assert.True(exit == 0, error.ToString());
        Assert.Matches(@"^generated 40 bytes in [0-9.]+ s \([0-9.]+ bytes/s, mamba, 4 sequences, fused step, fp32 weights\)", error.ToString());

        using ByteLanguageModel model = ModelCheckpoint.Load(dir, CPU);
        var expected = new StringBuilder();
        string[] texts = ["first prompt", "first prompt", "second", "second"];
        for (int k = 0; k < 4; k++)
        {
            byte[] bytes = ByteGenerator.Generate(model, Encoding.UTF8.GetBytes(texts[k]), 10, new SamplingOptions(1, 20, 1, 3 + (ulong)k)).Bytes;
            var text = new StringWriter();
            var stream = new Utf8StreamWriter(text);
            stream.Write(Encoding.UTF8.GetBytes(texts[k]));
            stream.Write(bytes);
            stream.Flush();
            expected.Append($"=== sequence {k + 1}/4: prompt {k / 2 + 1}, sample {k % 2 + 1}, seed {3 + k} ===").Append(Environment.NewLine)
                .Append(text).Append(Environment.NewLine);
        }
        Assert.Equal(expected.ToString(), output.ToString());
    }
}
