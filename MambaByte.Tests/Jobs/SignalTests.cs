using System.Diagnostics;
using MambaByte.Tests.Support;
using MambaByte.Train.Training;

namespace MambaByte.Tests.Jobs;

public sealed class SignalTests
{
    [Fact]
    public async Task Sigterm_saves_a_checkpoint_at_the_step_boundary_and_exits_zero()
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
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();

        // Wait until training is under way, then send SIGTERM as a service manager would.
        string? line;
        while ((line = process.StandardOutput.ReadLine()) is not null && !line.StartsWith("step 3/", StringComparison.Ordinal))
        {
        }
        Assert.NotNull(line);
        using (var kill = Process.Start("kill", ["-TERM", process.Id.ToString()])) kill.WaitForExit();
        string rest = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(60_000), "the trainer did not stop after SIGTERM");

        Assert.Equal(0, process.ExitCode);
        Assert.Contains("SIGTERM: saving a checkpoint at the next step boundary", await stderr);
        Assert.Contains("interrupted at step ", rest);
        string checkpoint = CheckpointStore.Resolve(run);
        TrainerState state = Trainer.ReadState(checkpoint);
        Assert.True(state.Step >= 3);
        Assert.Equal(Path.Combine(run, "checkpoints", $"step-{state.Step}"), checkpoint);
        // The checkpoint holds the steps logged before the signal, none after it.
        Assert.Equal(state.Step, MetricsLog.Read(Path.Combine(checkpoint, "metrics.csv")).Count(r => r.Kind == "train"));
    }
}
