using System.Text.Json;
using MambaByte.Core.Checkpoints;
using MambaByte.Core.Models;
using MambaByte.Tests.Support;
using MambaByte.Train.Training;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Transformer;
using MambaByte.Train.Runs;

namespace MambaByte.Tests.Jobs;

/// <summary>What a resumed run restores beyond weights and batches: torch's RNG (dropout) and the time already spent.</summary>
public sealed class ResumeTests
{
    static TransformerConfig DropoutTransformer => new() { DModel = 16, NLayer = 1, NHead = 2, Dropout = 0.3, Seed = 3 };

    static TrainingServices TransformerServices() => TestTraining.Services() with
    {
        CreateModel = _ => new ByteTransformer(DropoutTransformer),
        SaveModel = ModelCheckpoint.Save,
        LoadModel = ModelCheckpoint.Load,
    };

    static List<MetricsRow> TrainRows(string run) =>
        MetricsLog.Read(Path.Combine(run, "metrics.csv")).Where(r => r.Kind == "train").ToList();

    [Fact]
    public void A_transformer_with_dropout_resumed_mid_run_reproduces_the_uninterrupted_losses_exactly()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        // Dropout draws from torch's global generator: two training forwards of the same bytes differ.
        using (var probe = new ByteTransformer(DropoutTransformer))
        using (var scope = NewDisposeScope())
        {
            probe.train();
            Tensor bytes = tensor(TestTraining.Corpus.Take(17).Select(b => (long)b).ToArray(), [1, 17]);
            double a = probe.Loss(bytes[.., ..16], bytes[.., 1..]).item<float>(), b = probe.Loss(bytes[.., ..16], bytes[.., 1..]).item<float>();
            Assert.NotEqual(a, b);
        }

        string straight = temp.File("straight"), interrupted = temp.File("interrupted");
        TrainOptions Options(string run) => TestTraining.Options(run) with { Arch = "transformer", EvalEvery = 0, GradAccum = 1 };
        Assert.Equal(TrainingStopReason.Completed, new Trainer(Options(straight), TransformerServices(), new PlainProgress(TextWriter.Null)).Run().Reason);

        using var cancel = new CancellationTokenSource();
        TrainingOutcome stopped = new Trainer(Options(interrupted), TransformerServices(), new PlainProgress(TextWriter.Null))
        {
            StepCompleted = step => { if (step == 3) cancel.Cancel(); },
        }.Run(cancellationToken: cancel.Token);
        Assert.Equal(3, stopped.Step);
        // Whatever the generator did in between (here: more dropout draws) must not leak into the resumed run.
        manual_seed(12345);
        Assert.Equal(TrainingStopReason.Completed, new Trainer(Options(interrupted), TransformerServices(), new PlainProgress(TextWriter.Null)).Run(resumeFrom: interrupted).Reason);

        List<MetricsRow> expected = TrainRows(straight), actual = TrainRows(interrupted);
        Assert.Equal(6, expected.Count);
        Assert.Equal(expected.Select(r => (r.Step, r.Loss)), actual.Select(r => (r.Step, r.Loss)));   // bit for bit
    }

    [Fact]
    public void The_time_limit_counts_the_training_time_of_earlier_sessions()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string run = temp.File("run");
        TrainOptions options = TestTraining.Options(run) with { EvalEvery = 0, MaxSteps = 6, MaxMinutes = 10 };
        using var cancel = new CancellationTokenSource();
        TrainingOutcome first = new Trainer(options, TestTraining.Services(), new PlainProgress(TextWriter.Null))
        {
            StepCompleted = step => { if (step == 2) cancel.Cancel(); },
        }.Run(cancellationToken: cancel.Token);
        Assert.Equal(2, first.Step);

        // The checkpoint says the run has trained for its whole 10 minutes already (as after a long first session).
        string checkpoint = RunDirectory.Resolve(run);
        string statePath = Path.Combine(checkpoint, RunDirectory.StateFile);
        TrainerState state = RunDirectory.ReadState(checkpoint);
        File.WriteAllText(statePath, JsonSerializer.Serialize(state with { ElapsedSeconds = 600 }, TrainOptionsLoader.Json));

        // Nothing is left of the budget: the resumed run takes no step (it used to start a fresh 10 minutes).
        TrainingOutcome resumed = new Trainer(options, TestTraining.Services(), new PlainProgress(TextWriter.Null)).Run(resumeFrom: run);
        Assert.Equal(TrainingStopReason.Completed, resumed.Reason);
        Assert.Equal(2, resumed.Step);

        // With budget left (20 minutes) it continues, and its elapsed time carries on from the checkpoint's.
        TrainingOutcome more = new Trainer(options with { MaxMinutes = 20 }, TestTraining.Services(), new PlainProgress(TextWriter.Null)).Run(resumeFrom: run);
        Assert.Equal(6, more.Step);
        Assert.True(RunDirectory.ReadState(RunDirectory.Resolve(run)).ElapsedSeconds >= 600);
    }
}
