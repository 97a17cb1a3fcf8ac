using MambaByte.Tests.Support;
using MambaByte.Train;
using MambaByte.Train.Compare;
using MambaByte.Train.Training;
using MambaByte.Train.Runs;

namespace MambaByte.Tests.Compare;

public sealed class CompareSignalTests
{
    /// <summary>
    /// A real SIGINT or SIGTERM (kill(2) to this process, handled by <see cref="StopSignals"/>) as compare trains,
    /// scores the test bytes and times generation: each time the comparison stops cleanly (no exception, no report,
    /// the command exits 0 on a null report) with its run checkpointed, and the same command then finishes.
    /// </summary>
    [Fact]
    public void A_stop_signal_in_any_compare_phase_stops_cleanly_and_the_same_command_finishes()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string outDirectory = temp.File("cmp");
        var options = new ComparisonOptions
        {
            Data = "kjv", Architectures = ["mamba"], Match = "flops", Size = "1", BudgetFlops = 1e8, Context = 32, BatchSize = 2,
            Seed = 9, Device = "cpu", Out = outDirectory, Evaluations = 1, EvalBytes = 256, TestBytes = 256, GenerationPositions = [8], GenerationBytes = 2,
        };
        string run = ComparisonRunner.RunDirectory(outDirectory, "mamba");
        string report = Path.Combine(outDirectory, ComparisonReportWriter.JsonFile);

        foreach ((string phase, int signal) in new[] { ("train mamba", ProcessSignals.SIGINT), ("test mamba", ProcessSignals.SIGTERM), ("generation mamba", ProcessSignals.SIGINT) })
        {
            var output = new StringWriter();
            var error = new StringWriter();
            var phases = new List<string>();
            using (var stop = new StopSignals(CancellationToken.None, error))
            {
                var runner = new ComparisonRunner(options, output)
                {
                    PhaseStarted = p =>
                    {
                        phases.Add(p);
                        if (p == phase) ProcessSignals.SendToSelfAndWait(signal, stop.Token);
                    },
                };
                Assert.Null(runner.Run("compare", stop.Token));
            }
            Assert.Equal(phase, phases[^1]);
            Assert.Contains("saving a checkpoint", error.ToString());
            Assert.False(File.Exists(report));
            TrainerState state = RunDirectory.ReadState(RunDirectory.Resolve(run));
            if (phase == "train mamba") Assert.Equal(0, state.Step);                         // stopped before its first step
            else if (phase == "test mamba") Assert.Contains("mamba: resuming", output.ToString()); // trained to the budget, then stopped
            else Assert.Contains("mamba: already trained (", output.ToString());
        }

        var last = new StringWriter();
        ComparisonReport? finished = new ComparisonRunner(options, last).Run("compare");
        Assert.NotNull(finished);
        Assert.True(File.Exists(report));
        Assert.Contains("mamba: already trained (", last.ToString());
        Assert.Equal(RunDirectory.ReadState(RunDirectory.Resolve(run)).Step, finished.Architectures[0].Steps);
    }
}
