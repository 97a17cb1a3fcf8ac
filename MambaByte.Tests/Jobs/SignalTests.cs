using System.Collections;
using System.Diagnostics;
using MambaByte.Tests.Support;
using MambaByte.Train;
using MambaByte.Train.Training;
using MambaByte.Train.Runs;

namespace MambaByte.Tests.Jobs;

public sealed class SignalTests
{
    [Theory]
    [InlineData("SIGTERM")]
    [InlineData("SIGINT")]
    public async Task A_stop_signal_to_the_train_process_saves_a_checkpoint_at_the_step_boundary_and_exits_zero(string signal)
    {
        using var temp = new TempDir();
        string run = temp.File("run");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        foreach (string arg in new[]
                 {
                     Path.Combine(AppContext.BaseDirectory, "mambabyte.dll"), "train", "--data", "kjv", "--context", "16", "--batch-size", "2",
                     "--max-steps", "100000", "--log-every", "1", "--eval-every", "0", "--checkpoint-every", "0", "--tensorboard", "false",
                     "--device", "cpu", "--out", run,
                 })
            start.ArgumentList.Add(arg);
        start.Environment["OMP_NUM_THREADS"] = "1";
        ProcessSignals.RequireHandled(ProcessSignals.Number(signal));                      // the child inherits an ignore
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();

        // Wait until training is under way, then send the signal as a service manager (SIGTERM) or Ctrl-C (SIGINT) would.
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null && !line.StartsWith("step 3/", StringComparison.Ordinal))
        {
        }
        Assert.NotNull(line);
        ProcessSignals.Send(process.Id, ProcessSignals.Number(signal));
        string rest = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), $"the trainer did not stop after {signal}");

        Assert.Equal(0, process.ExitCode);
        Assert.Contains($"{signal}: saving a checkpoint at the next step boundary", await stderr);
        Assert.Contains("interrupted at step ", rest);
        string checkpoint = RunDirectory.Resolve(run);
        TrainerState state = RunDirectory.ReadState(checkpoint);
        Assert.True(state.Step >= 3);
        Assert.Equal(Path.Combine(run, "checkpoints", $"step-{state.Step}"), checkpoint);
        // The checkpoint holds the steps logged before the signal, none after it.
        Assert.Equal(state.Step, MetricsLog.Read(Path.Combine(checkpoint, "metrics.csv")).Count(r => r.Kind == "train"));
    }

    /// <summary>
    /// A real SIGINT or SIGTERM (sent to this process with kill(2), handled by <see cref="StopSignals"/>) in each phase
    /// of a run: inside a training step, during the periodic evaluation, during the final evaluation, while a
    /// checkpoint is being written. Every time the run ends Interrupted with exit code 0 and a complete checkpoint of
    /// the last finished step, and resuming from it reproduces the uninterrupted run's losses bit for bit.
    /// </summary>
    [Theory]
    [InlineData("training step", "SIGTERM", 1)]
    [InlineData("training step", "SIGINT", 1)]
    [InlineData("evaluation", "SIGTERM", 3)]
    [InlineData("evaluation", "SIGINT", 3)]
    [InlineData("final evaluation", "SIGTERM", 6)]
    [InlineData("final evaluation", "SIGINT", 6)]
    [InlineData("checkpoint write", "SIGTERM", 2)]
    [InlineData("checkpoint write", "SIGINT", 2)]
    public void A_stop_signal_in_any_training_phase_saves_a_checkpoint_exits_zero_and_resumes_exactly(string phase, string signal, long stoppedAt)
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string straight = temp.File("straight"), run = temp.File("run");
        // 6 steps; evaluations after step 3 and at the end; checkpoints after steps 2 and 4 (and the last).
        TrainOptions Options(string outDirectory) => TestTraining.Options(outDirectory) with { CheckpointEvery = 2 };
        Assert.Equal(TrainingStopReason.Completed, new Trainer(Options(straight), TestTraining.Services(), new PlainProgress(TextWriter.Null)).Run().Reason);

        var error = new StringWriter();
        TrainingOutcome outcome;
        using (var stop = new StopSignals(CancellationToken.None, error))
        {
            void Send() => ProcessSignals.SendToSelfAndWait(ProcessSignals.Number(signal), stop.Token);
            int evaluations = 0, checkpointFiles = 0;
            TrainingServices services = TestTraining.Services() with
            {
                EvalDocuments = _ => new WatchedDocuments([TestTraining.Corpus.AsMemory(0, 200)], () =>
                {
                    evaluations++;
                    if ((phase == "evaluation" && evaluations == 1) || (phase == "final evaluation" && evaluations == 2)) Send();
                }),
            };
            var trainer = new Trainer(Options(run), services, new PlainProgress(TextWriter.Null))
            {
                GradientsReady = (step, _) => { if (phase == "training step" && step == 1) Send(); },
                CheckpointFault = _ => { if (phase == "checkpoint write" && ++checkpointFiles == 1) Send(); },
            };
            outcome = trainer.Run(cancellationToken: stop.Token);
        }

        Assert.Equal(TrainingStopReason.Interrupted, outcome.Reason);
        Assert.Equal(0, outcome.ExitCode);
        Assert.Equal(stoppedAt, outcome.Step);
        Assert.StartsWith($"interrupted at step {stoppedAt}", outcome.Message);
        Assert.Contains($"mambabyte: {signal}: saving a checkpoint", error.ToString());
        string checkpoint = RunDirectory.Resolve(run);
        Assert.Equal(Path.Combine(run, "checkpoints", $"step-{stoppedAt}"), checkpoint);
        Assert.Equal(stoppedAt, RunDirectory.ReadState(checkpoint).Step);

        TrainingOutcome resumed = new Trainer(Options(run), TestTraining.Services(), new PlainProgress(TextWriter.Null)).Run(resumeFrom: run);
        Assert.Equal(TrainingStopReason.Completed, resumed.Reason);
        List<MetricsRow> expected = MetricsLog.Read(Path.Combine(straight, "metrics.csv")), actual = MetricsLog.Read(Path.Combine(run, "metrics.csv"));
        Assert.Equal(6, expected.Count(r => r.Kind == "train"));
        Assert.Equal(expected.Where(r => r.Kind == "train").Select(r => (r.Step, r.Loss)), actual.Where(r => r.Kind == "train").Select(r => (r.Step, r.Loss)));
        // Every evaluation is there and the same (the final one included), except one the signal cut short.
        var expectedEvals = expected.Where(r => r.Kind == "eval").Select(r => (r.Step, r.BitsPerByte)).ToList();
        if (phase == "evaluation") expectedEvals.RemoveAll(e => e.Step == stoppedAt);
        Assert.Equal(expectedEvals, actual.Where(r => r.Kind == "eval").Select(r => (r.Step, r.BitsPerByte)));
    }

    /// <summary>Evaluation documents that call <paramref name="enumerating"/> each time an evaluation starts reading them.</summary>
    sealed class WatchedDocuments(IReadOnlyList<ReadOnlyMemory<byte>> documents, Action enumerating) : IReadOnlyList<ReadOnlyMemory<byte>>
    {
        public ReadOnlyMemory<byte> this[int index] => documents[index];

        public int Count => documents.Count;

        public IEnumerator<ReadOnlyMemory<byte>> GetEnumerator()
        {
            enumerating();
            return documents.GetEnumerator();
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
