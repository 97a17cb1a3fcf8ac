using MambaByte.Train.Training;

namespace MambaByte.Tests.Jobs;

public sealed class LearningRateScheduleTests
{
    [Fact]
    public void Warmup_is_linear_then_cosine_decays_to_the_floor()
    {
        var schedule = new LearningRateSchedule(Peak: 1e-3, MinRatio: 0.1, WarmupSteps: 10, DecaySteps: 110);
        Assert.Equal(1e-4, schedule.At(0), 15);                   // first step: peak / warmup
        Assert.Equal(5e-4, schedule.At(4), 15);
        Assert.Equal(1e-3, schedule.At(9), 15);                   // end of warmup: the peak
        Assert.Equal(1e-3, schedule.At(10), 15);                  // cosine starts at the peak
        Assert.Equal(1e-4 + 0.5 * 9e-4, schedule.At(60), 15);     // half way: the mean of peak and floor
        Assert.Equal(1e-4 + 0.5 * 9e-4 * (1 + Math.Cos(Math.PI * 0.25)), schedule.At(35), 15);
        Assert.Equal(1e-4, schedule.At(110), 15);                 // the floor
        Assert.Equal(1e-4, schedule.At(500), 15);                 // and it stays there
    }

    [Fact]
    public void The_decay_horizon_comes_from_max_steps_or_max_bytes()
    {
        var options = new TrainOptions { Lr = 1, WarmupSteps = 0, MinLrRatio = 0, MaxSteps = 100 };
        Assert.Equal(100, LearningRateSchedule.For(options).DecaySteps);
        Assert.Equal(0.5, LearningRateSchedule.For(options).At(50), 12);
        // 8 × 256 × 1 bytes per step: 1,000,000 bytes is 489 steps (rounded up).
        Assert.Equal(489, LearningRateSchedule.For(options with { MaxSteps = 0, MaxBytes = 1_000_000 }).DecaySteps);
        Assert.Equal(40, LearningRateSchedule.For(options with { DecaySteps = 40 }).DecaySteps);
        // With a step or byte horizon a time limit beside it does not change the schedule (exact resume).
        Assert.Equal(0.5, LearningRateSchedule.For(options with { MaxMinutes = 1 }).At(50, elapsedSeconds: 59), 12);
        Assert.Equal(1.0, LearningRateSchedule.For(options with { MaxSteps = 0, MaxMinutes = 0, MaxBytes = 0 }).At(1_000_000));   // no horizon: the peak
    }

    [Fact]
    public void A_run_limited_only_by_time_decays_over_its_time_budget()
    {
        // Peak 1e-3, floor 1e-4, 10 warmup steps, 2 minutes: the cosine's progress is elapsed / 120 s.
        var options = new TrainOptions { Lr = 1e-3, MinLrRatio = 0.1, WarmupSteps = 10, MaxSteps = 0, MaxMinutes = 2 };
        LearningRateSchedule schedule = LearningRateSchedule.For(options);
        Assert.Equal(0, schedule.DecaySteps);
        Assert.Equal(120, schedule.DecaySeconds);
        Assert.Equal(5e-4, schedule.At(4, elapsedSeconds: 100), 15);          // warmup counts steps whatever the time
        Assert.Equal(1e-3, schedule.At(10, elapsedSeconds: 0), 15);
        Assert.Equal(8.681980515339464e-4, schedule.At(11, elapsedSeconds: 30), 15);   // 1e-4 + 4.5e-4 (1 + cos π/4)
        Assert.Equal(5.5e-4, schedule.At(11, elapsedSeconds: 60), 15);                 // half the budget: mean of peak and floor
        Assert.Equal(5.5e-4, schedule.At(5_000, elapsedSeconds: 60), 15);              // the step count plays no part
        Assert.Equal(2.318019484660536e-4, schedule.At(11, elapsedSeconds: 90), 15);  // 1e-4 + 4.5e-4 (1 − cos π/4)
        Assert.Equal(1e-4, schedule.At(11, elapsedSeconds: 120), 15);                  // the floor when time is up
        Assert.Equal(1e-4, schedule.At(11, elapsedSeconds: 1_000), 15);
    }
}
