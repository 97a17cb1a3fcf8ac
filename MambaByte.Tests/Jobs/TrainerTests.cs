using MambaByte.Core.Native;
using MambaByte.Tests.Support;
using MambaByte.Train.Training;
using MambaByte.Train.Runs;

namespace MambaByte.Tests.Jobs;

public sealed class TrainerTests
{
    static int CountOf(string text, string tag) => (text.Length - text.Replace(tag, "").Length) / tag.Length;

    static List<MetricsRow> TrainRows(string run) =>
        MetricsLog.Read(Path.Combine(run, "metrics.csv")).Where(r => r.Kind == "train").ToList();

    [Fact]
    public void Resume_after_an_interruption_reproduces_the_uninterrupted_losses_exactly()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string straight = temp.File("straight"), interrupted = temp.File("interrupted");

        TrainingOutcome full = new Trainer(TestTraining.Options(straight), TestTraining.Services(), new PlainProgress(TextWriter.Null)).Run();
        Assert.Equal(TrainingStopReason.Completed, full.Reason);

        // SIGTERM-style: cancel after step 3; the trainer saves a checkpoint at the step boundary.
        using var cancel = new CancellationTokenSource();
        var first = new Trainer(TestTraining.Options(interrupted), TestTraining.Services(), new PlainProgress(TextWriter.Null))
        {
            StepCompleted = step => { if (step == 3) cancel.Cancel(); },
        };
        TrainingOutcome stopped = first.Run(cancellationToken: cancel.Token);
        Assert.Equal(TrainingStopReason.Interrupted, stopped.Reason);
        Assert.Equal(0, stopped.ExitCode);
        Assert.Equal(3, stopped.Step);
        Assert.Equal(3, RunDirectory.ReadState(RunDirectory.Resolve(interrupted)).Step);

        TrainingOutcome resumed = new Trainer(TestTraining.Options(interrupted), TestTraining.Services(), new PlainProgress(TextWriter.Null)).Run(resumeFrom: interrupted);
        Assert.Equal(TrainingStopReason.Completed, resumed.Reason);

        List<MetricsRow> expected = TrainRows(straight), actual = TrainRows(interrupted);
        Assert.Equal(6, expected.Count);
        Assert.Equal(expected.Select(r => r.Step), actual.Select(r => r.Step));
        Assert.Equal(expected.Select(r => r.Loss), actual.Select(r => r.Loss));   // bit-for-bit
        Assert.Equal(expected.Select(r => r.Lr), actual.Select(r => r.Lr));
        Assert.NotEqual(expected[0].Loss, expected[5].Loss);                       // it did train
        // The interruption is invisible in the evaluations too (eval at step 3 and at the end).
        Assert.Equal(
            MetricsLog.Read(Path.Combine(straight, "metrics.csv")).Where(r => r.Kind == "eval").Select(r => (r.Step, r.BitsPerByte)),
            MetricsLog.Read(Path.Combine(interrupted, "metrics.csv")).Where(r => r.Kind == "eval").Select(r => (r.Step, r.BitsPerByte)));
    }

    [Fact]
    public void A_crash_mid_checkpoint_write_leaves_the_previous_checkpoint_loadable()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string run = temp.File("run");
        TrainOptions options = TestTraining.Options(run) with { CheckpointEvery = 2, MaxSteps = 6, EvalEvery = 0 };
        int files = 0;
        var trainer = new Trainer(options, TestTraining.Services(), new PlainProgress(TextWriter.Null))
        {
            // step-2 has 5 files (config, weights, optimizer, state, metrics); die after the 2nd file of step-4.
            CheckpointFault = file => { if (++files == 7) throw new IOException("simulated crash while writing " + file); },
        };
        Assert.Throws<IOException>(() => trainer.Run());

        string latest = RunDirectory.Resolve(run);
        Assert.Equal(Path.Combine(run, "checkpoints", "step-2"), latest);
        Assert.Single(Directory.GetDirectories(Path.Combine(run, "checkpoints"), "step-4.tmp-*"));
        Assert.Equal(2, RunDirectory.ReadState(latest).Step);
        using var model = RecurrentTestModel.Load(latest, TorchSharp.torch.CPU);
        Assert.Equal(8, model.Width);

        // Resuming from the run directory picks step-2, cleans the half-written folder and finishes.
        TrainingOutcome resumed = new Trainer(options, TestTraining.Services(), new PlainProgress(TextWriter.Null)).Run(resumeFrom: run);
        Assert.Equal(6, resumed.Step);
        Assert.Empty(Directory.GetDirectories(Path.Combine(run, "checkpoints"), "*.tmp-*"));
        Assert.Equal(["step-4", "step-6"], Directory.GetDirectories(Path.Combine(run, "checkpoints")).Select(d => Path.GetFileName(d)!).Order().ToArray());
    }

    [Fact]
    public void A_nan_loss_stops_before_the_update_naming_the_step_and_keeps_the_last_checkpoint()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string run = temp.File("run");
        TrainOptions options = TestTraining.Options(run) with { CheckpointEvery = 2, GradAccum = 1, EvalEvery = 0 };
        // Forward 4 is the 4th step's (one micro-batch per step): steps 1-3 train, step 4 sees NaN.
        TrainingOutcome outcome = new Trainer(options, TestTraining.Services(m => m.PoisonAfterForwards = 4), new PlainProgress(TextWriter.Null)).Run();

        Assert.Equal(TrainingStopReason.NonFiniteLoss, outcome.Reason);
        Assert.NotEqual(0, outcome.ExitCode);
        Assert.StartsWith("step 4: non-finite loss (NaN", outcome.Message);
        Assert.Equal(3, outcome.Step);
        Assert.Equal(Path.Combine(run, "checkpoints", "step-2"), outcome.LastCheckpoint);
        Assert.Equal(Path.Combine(run, "checkpoints", "step-2"), RunDirectory.Resolve(run));
        Assert.Equal(3, TrainRows(run).Count);
    }

    [Fact]
    public void Too_little_disk_space_or_an_unwritable_output_folder_is_reported_before_training()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        TrainingServices tight = TestTraining.Services() with { FreeSpace = _ => 1_000_000 };
        var e = Assert.Throws<IOException>(() => new Trainer(TestTraining.Options(temp.File("run")), tight, new PlainProgress(TextWriter.Null)).Run());
        Assert.Contains("MB are needed for checkpoints", e.Message);
        Assert.Contains("only 1.0 MB are free", e.Message);
        Assert.False(File.Exists(temp.File("run/metrics.csv")));

        File.WriteAllText(temp.File("blocker"), "a file where the run folder's parent should be");
        var unwritable = Assert.Throws<IOException>(() =>
            new Trainer(TestTraining.Options(temp.File("blocker/run")), TestTraining.Services(), new PlainProgress(TextWriter.Null)).Run());
        Assert.Contains("the output folder is not writable", unwritable.Message);
    }

    [Fact]
    public void Checkpoints_keep_the_last_k_and_the_best_by_eval_bits_per_byte()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string run = temp.File("run");
        TrainOptions options = TestTraining.Options(run) with { CheckpointEvery = 1, KeepLast = 2, EvalEvery = 2, GradAccum = 1, Tensorboard = true };
        new Trainer(options, TestTraining.Services(), new PlainProgress(TextWriter.Null)).Run();

        // TensorBoard: one event file whose records carry the scalar tags.
        string events = Assert.Single(Directory.GetFiles(Path.Combine(run, "tensorboard"), "events.out.tfevents.*"));
        string raw = System.Text.Encoding.Latin1.GetString(File.ReadAllBytes(events));
        Assert.Equal(6, CountOf(raw, "train/loss"));
        Assert.Equal(3, CountOf(raw, "eval/bits_per_byte"));

        Assert.Equal(["step-5", "step-6"], Directory.GetDirectories(Path.Combine(run, "checkpoints")).Select(d => Path.GetFileName(d)!).Order().ToArray());
        var evals = MetricsLog.Read(Path.Combine(run, "metrics.csv")).Where(r => r.Kind == "eval").ToList();
        Assert.Equal([2L, 4L, 6L], evals.Select(r => r.Step));
        MetricsRow best = evals.MinBy(r => r.BitsPerByte)!;
        TrainerState bestState = RunDirectory.ReadState(Path.Combine(run, "best"));
        Assert.Equal(best.Step, bestState.Step);
        Assert.Equal(best.BitsPerByte, bestState.BestEvalBitsPerByte);
        Assert.True(File.Exists(Path.Combine(run, "run.json")));
    }

    [Fact]
    public void The_byte_limit_ends_the_run_at_the_step_that_reaches_it()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        TrainOptions options = TestTraining.Options(temp.File("run")) with { MaxSteps = 0, EvalEvery = 0 };
        // 16 bytes × 2 rows × 2 micro-batches = 64 bytes per step: 150 bytes end the run after step 3.
        options = options with { MaxBytes = 150 };
        TrainingOutcome outcome = new Trainer(options, TestTraining.Services(), new PlainProgress(TextWriter.Null)).Run();
        Assert.Equal(3, outcome.Step);
        Assert.Equal([64L, 128L, 192L], TrainRows(temp.File("run")).Select(r => r.Bytes));
    }
}
