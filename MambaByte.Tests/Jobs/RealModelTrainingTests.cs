using MambaByte.Core.Checkpoints;
using MambaByte.Core.Models;
using MambaByte.Tests.Support;
using MambaByte.Train.Training;
using MambaByte.Core.Architectures.Mamba;
using MambaByte.Train.Runs;

namespace MambaByte.Tests.Jobs;

/// <summary>The trainer with the real services: the shipped kjv dataset, its window sampler and the real models' checkpoints.</summary>
public sealed class RealModelTrainingTests
{
    static TrainOptions Options(string arch, string run) => new()
    {
        Arch = arch, Preset = "tiny", Data = "kjv", Out = run, Device = "cpu", Context = 16, BatchSize = 2,
        Lr = 5e-3, WarmupSteps = 1, MaxSteps = 4, LogEvery = 1, EvalEvery = 2, EvalBytes = 300, CheckpointEvery = 0,
        Tensorboard = false, Seed = 3,
    };

    static List<double> Losses(string run) =>
        MetricsLog.Read(Path.Combine(run, "metrics.csv")).Where(r => r.Kind == "train").Select(r => r.Loss).ToList();

    [Theory]
    [InlineData("mamba")]
    [InlineData("transformer")]
    [InlineData("megabyte")]
    public void A_real_model_on_kjv_resumes_to_the_uninterrupted_losses_exactly(string arch)
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string straight = temp.File("straight"), split = temp.File("split");

        using (var data = new TrainingData(Options(arch, straight)))
            new Trainer(Options(arch, straight), data.Services(), new PlainProgress(TextWriter.Null)).Run();

        using (var data = new TrainingData(Options(arch, split)))
        {
            using var cancel = new CancellationTokenSource();
            var trainer = new Trainer(Options(arch, split), data.Services(), new PlainProgress(TextWriter.Null))
            {
                StepCompleted = step => { if (step == 2) cancel.Cancel(); },
            };
            Assert.Equal(TrainingStopReason.Interrupted, trainer.Run(cancellationToken: cancel.Token).Reason);
            new Trainer(Options(arch, split), data.Services(), new PlainProgress(TextWriter.Null)).Run(resumeFrom: split);
        }

        List<double> expected = Losses(straight);
        Assert.Equal(4, expected.Count);
        Assert.Equal(expected, Losses(split));
        // The checkpoint is a model directory eval/generate can load, with the architecture's own config.json.
        using ByteLanguageModel model = ModelCheckpoint.Load(RunDirectory.Resolve(split), TorchSharp.torch.CPU);
        Assert.Equal(arch, model.Architecture);
    }

    [Fact]
    public void Mamba_exempts_A_log_and_D_and_norms_from_weight_decay()
    {
        SingleThreadedTorch.Ensure();
        using ByteLanguageModel model = new MambaLMHeadModel(MambaConfig.Tiny);
        (IReadOnlyList<string> decay, IReadOnlyList<string> noDecay) = OptimizerSetup.Groups(model);
        Assert.Contains("backbone.layers.0.mixer.A_log", noDecay);
        Assert.Contains("backbone.layers.1.mixer.D", noDecay);
        Assert.Contains("backbone.norm_f.weight", noDecay);
        Assert.Contains("backbone.layers.0.mixer.in_proj.weight", decay);
        Assert.Contains("backbone.embedding.weight", decay);
        Assert.DoesNotContain(decay, n => n.EndsWith(".A_log") || n.EndsWith(".D") || n.EndsWith("bias") || n.Contains("norm"));
        Assert.Equal(model.parameters().Count(), decay.Count + noDecay.Count);
    }
}
