using System.Text.Json.Nodes;
using MambaByte.Core.Checkpoints;
using MambaByte.Tests.Support;
using MambaByte.Train.Training;
using MambaByte.Train.Runs;

namespace MambaByte.Tests.Jobs;

/// <summary>
/// <c>--max-minutes</c> without <c>--max-steps</c>: the time budget is the run's limit (the default step limit does not
/// cut it short) and the learning rate decays over that budget.
/// </summary>
public sealed class TimeBudgetTests
{
    static TrainOptions Merge(JsonObject? config, params (string Key, string Value)[] commandLine) =>
        TrainOptionsLoader.Merge(config, config is null ? null : "run.json", commandLine.ToDictionary(kv => kv.Key, kv => kv.Value));

    [Fact]
    public void A_time_or_byte_limit_given_alone_replaces_the_default_step_limit()
    {
        Assert.Equal(1000, Merge(null).MaxSteps);                                            // no limit given: the default stands in
        Assert.Equal(0, Merge(null, ("max-minutes", "3")).MaxSteps);                         // time alone binds
        Assert.Equal(0, Merge(null, ("max-bytes", "100000")).MaxSteps);                      // so do bytes alone
        Assert.Equal(50, Merge(null, ("max-minutes", "3"), ("max-steps", "50")).MaxSteps);   // both given: the first reached ends the run
        Assert.Equal(1000, Merge(null, ("max-minutes", "3"), ("max-steps", "1000")).MaxSteps);
        // A run.json that names max-steps (every saved run.json does) keeps it, so --config and --resume replay it.
        Assert.Equal(1000, Merge(new JsonObject { ["max-steps"] = 1000 }, ("max-minutes", "3")).MaxSteps);
        Assert.Equal(0, Merge(new JsonObject { ["max-minutes"] = 3 }).MaxSteps);
    }

    [Fact]
    public void A_time_limited_run_trains_until_its_budget_with_the_rate_decaying_over_it()
    {
        SingleThreadedTorch.Ensure();
        using var temp = new TempDir();
        string run = temp.File("run");
        TrainOptions options = TestTraining.Options(run) with { MaxSteps = 0, MaxMinutes = 0.03, EvalEvery = 0, WarmupSteps = 2, Lr = 1e-2, MinLrRatio = 0.1 };
        TrainingOutcome outcome = new Trainer(options, TestTraining.Services(), new PlainProgress(TextWriter.Null)).Run();
        Assert.Equal(TrainingStopReason.Completed, outcome.Reason);
        double budget = options.MaxMinutes * 60;
        Assert.True(RunDirectory.ReadState(RunDirectory.Resolve(run)).ElapsedSeconds >= budget, "the run stopped before its 1.8 s budget");

        // Each step's rate is the schedule's at the time the step started, which lies between the previous row's
        // elapsed time and its own (one row per step, the rate non-increasing in time after warmup).
        List<MetricsRow> rows = MetricsLog.Read(Path.Combine(run, "metrics.csv")).Where(r => r.Kind == "train").ToList();
        Assert.Equal(Enumerable.Range(1, rows.Count).Select(i => (long)i), rows.Select(r => r.Step));
        Assert.True(rows.Count > 10, $"only {rows.Count} steps in 1.8 s");
        Assert.Equal([5e-3, 1e-2], rows.Take(2).Select(r => r.Lr));   // warmup: peak / 2, then the peak
        double earliest = rows[1].ElapsedSeconds;
        for (int i = 2; i < rows.Count; i++)
        {
            // By hand: floor 1e-3 + 4.5e-3 (1 + cos(π · elapsed / 1.8 s)).
            double Expected(double seconds) => 1e-3 + 4.5e-3 * (1 + Math.Cos(Math.PI * Math.Min(1, seconds / budget)));
            Assert.InRange(rows[i].Lr, Expected(rows[i].ElapsedSeconds) - 1e-12, Expected(earliest) + 1e-12);
            earliest = rows[i].ElapsedSeconds;
        }
        // The last step started in the budget's last stretch: its rate is near the floor, far below the peak.
        Assert.True(rows[^1].Lr < 5e-3, $"last rate {rows[^1].Lr}");
    }
}
