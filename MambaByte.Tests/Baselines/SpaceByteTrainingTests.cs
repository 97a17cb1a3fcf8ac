using System.Text.Json.Nodes;
using MambaByte.Core.Architectures;
using MambaByte.Core.Architectures.SpaceByte;
using MambaByte.Core.Checkpoints;
using MambaByte.Core.Models;
using MambaByte.Core.Native;
using MambaByte.Tests.Jobs;
using MambaByte.Tests.Support;
using MambaByte.Train.Runs;
using MambaByte.Train.Training;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace MambaByte.Tests.Baselines;

/// <summary>SpaceByte learns, and its weights survive a checkpoint and a resumed training run.</summary>
public sealed class SpaceByteTrainingTests(ITestOutputHelper output)
{
    [Fact]
    public void SpaceByte_tiny_drives_2KB_of_text_below_one_bit_per_byte()
    {
        TorchRuntime.EnsureLoaded();
        using var model = new SpaceByteModel(new SpaceByteConfig
        {
            DGlobal = 64, NGlobalLayer = 2, NGlobalHead = 2, DLocal = 64, NLocalLayer = 2, NLocalHead = 4, LocalAttentionWindow = 16, Seed = 1,
        });
        double bitsPerByte = new BaselineTrainingTests(output).TrainThenMeasure(model, maxSteps: 500);
        Assert.True(bitsPerByte < 1.0, $"bits per byte {bitsPerByte:F3}");
    }

    [Fact]
    public void Checkpoint_round_trip_restores_config_weights_and_logits()
    {
        TorchRuntime.EnsureLoaded();
        using var dir = new TempDir();
        using var scope = NewDisposeScope();
        using var model = new SpaceByteModel(SpaceByteConfig.Tiny with { GlobalContextSize = 4 }, seed: 21);
        Tensor bytes = SpaceByteFixtures.TextBytes(2, 19, seed: 6);
        Tensor expected = model.forward(bytes);

        ModelCheckpoint.Save(model, dir.Path);
        var config = SpaceByteConfig.FromConfigJson(ModelFactory.ReadConfig(dir.File(ModelCheckpoint.ConfigFileName)));
        using var fresh = new SpaceByteModel(config, seed: 99);
        Assert.True(BaselineFixtures.MaxAbsDifference(expected, fresh.forward(bytes)) > 1e-4);   // another seed differs until loaded
        using ByteLanguageModel loaded = ModelCheckpoint.Load(dir.Path, CPU);                      // through the registry
        Assert.IsType<SpaceByteModel>(loaded);
        Assert.Equal(model.ConfigJson().ToJsonString(), loaded.ConfigJson().ToJsonString());
        Assert.Equal(model.ParameterCount, loaded.ParameterCount);
        Assert.Equal(0.0, BaselineFixtures.MaxAbsDifference(expected, loaded.forward(bytes)));
    }

    [Fact]
    public void A_run_with_dropout_resumed_mid_run_reproduces_the_uninterrupted_losses_exactly()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        var config = new SpaceByteConfig
        {
            DGlobal = 16, NGlobalLayer = 1, NGlobalHead = 2, DLocal = 8, NLocalLayer = 2, NLocalHead = 2, LocalAttentionWindow = 4, Dropout = 0.3,
        };
        string configPath = temp.File("spacebyte.json");
        File.WriteAllText(configPath, config.ConfigJson().ToJsonString());
        // The trainer's own path: --arch spacebyte --model-config builds the model through the registry, and a
        // resume loads the checkpoint through it.
        TrainingServices services = TestTraining.Services() with
        {
            CreateModel = ModelBuilder.FromOptions,
            SaveModel = ModelCheckpoint.Save,
            LoadModel = ModelCheckpoint.Load,
        };
        TrainOptions Options(string run) => TestTraining.Options(run) with { Arch = "spacebyte", ModelConfig = configPath, EvalEvery = 0, GradAccum = 1 };
        string straight = temp.File("straight"), interrupted = temp.File("interrupted");
        Assert.Equal(TrainingStopReason.Completed, new Trainer(Options(straight), services, new PlainProgress(TextWriter.Null)).Run().Reason);

        using var cancel = new CancellationTokenSource();
        TrainingOutcome stopped = new Trainer(Options(interrupted), services, new PlainProgress(TextWriter.Null))
        {
            StepCompleted = step => { if (step == 3) cancel.Cancel(); },
        }.Run(cancellationToken: cancel.Token);
        Assert.Equal(3, stopped.Step);
        JsonObject saved = ModelFactory.ReadConfig(Path.Combine(RunDirectory.Resolve(interrupted), ModelCheckpoint.ConfigFileName));
        Assert.Equal("spacebyte", ModelFactory.ArchitectureOf(saved));
        Assert.Equal(0.3, (double)saved["dropout"]!);
        manual_seed(12345);   // whatever the generator did in between must not leak into the resumed run
        Assert.Equal(TrainingStopReason.Completed,
            new Trainer(Options(interrupted), services, new PlainProgress(TextWriter.Null)).Run(resumeFrom: interrupted).Reason);

        List<MetricsRow> expected = Rows(straight), actual = Rows(interrupted);
        Assert.Equal(6, expected.Count);
        Assert.Equal(expected.Select(r => (r.Step, r.Loss)), actual.Select(r => (r.Step, r.Loss)));   // bit for bit
        Assert.NotEqual(expected[0].Loss, expected[1].Loss);
    }

    [Fact]
    public void A_bf16_working_copy_gives_the_float32_loss_within_bf16_rounding()
    {
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        using var master = new SpaceByteModel(SpaceByteConfig.Tiny, seed: 4);
        using var working = new SpaceByteModel(SpaceByteConfig.Tiny, seed: 4);
        working.ToMixedPrecision(bfloat16);
        Assert.All(working.parameters(), p => Assert.Equal(ScalarType.BFloat16, p.dtype));
        Tensor bytes = SpaceByteFixtures.TextBytes(2, 41, seed: 9);
        Tensor input = bytes[.., ..^1], target = bytes[.., 1..];
        double fp32 = master.Loss(input, target).item<float>(), bf16 = working.Loss(input, target).item<float>();
        Assert.True(Math.Abs(bf16 - fp32) < 0.02, $"bf16 loss {bf16} vs fp32 {fp32}");
    }

    private static List<MetricsRow> Rows(string run) =>
        MetricsLog.Read(Path.Combine(run, "metrics.csv")).Where(r => r.Kind == "train").ToList();
}
