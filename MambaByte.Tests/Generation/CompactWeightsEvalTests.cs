using System.Text;
using System.Text.Json;
using MambaByte.Core.Checkpoints;
using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using MambaByte.Tests.Jobs;
using MambaByte.Tests.Support;
using MambaByte.Train;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Tests.Generation;

/// <summary><c>eval --weights</c> scores the model with its inference matrices rounded to the format.</summary>
public sealed class CompactWeightsEvalTests
{
    [Theory]
    [InlineData("int8", WeightFormat.Int8)]
    [InlineData("bf16", WeightFormat.Bf16)]
    public void Eval_with_compact_weights_equals_a_plain_forward_over_the_rounded_model(string option, WeightFormat format)
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string dir = temp.File("mamba");
        using (var saved = new MambaLMHeadModel(new MambaConfig { DModel = 24, NLayer = 2, DState = 6 }, seed: 14)) ModelCheckpoint.Save(saved, dir);
        byte[] text = Encoding.UTF8.GetBytes("And God said, Let there be light: and there was light. And God saw the light, that it was good.\n");
        string file = temp.File("sample.txt");
        File.WriteAllBytes(file, text);

        double Bpb(params string[] extra)
        {
            var output = new StringWriter();
            var error = new StringWriter();
            int exit = Cli.Run(["eval", "--checkpoint", dir, "--data", file, "--context", "512", "--json", "--device", "cpu", .. extra], output, error);
            Assert.True(exit == 0, error.ToString());
            using var json = JsonDocument.Parse(output.ToString());
            return json.RootElement.GetProperty("bits_per_byte").GetDouble();
        }

        using var rounded = (MambaLMHeadModel)ModelCheckpoint.Load(dir, CPU);
        rounded.UseWeights(format);
        double expected = EvaluationTests.FullForwardBits(rounded, text) / (text.Length - 1);
        double compact = Bpb("--weights", option), full = Bpb();
        Assert.Equal(expected, compact, 1e-6);
        Assert.NotEqual(full, compact, 9);                                                   // the rounding did change the weights
        Assert.True(Math.Abs(full - compact) < 0.02, $"fp32 {full} vs {option} {compact}");
    }
}
