namespace MambaByte.Train.Training;

/// <summary>
/// Linear warmup to the peak, then cosine decay to <c>peak · minRatio</c> at <see cref="DecaySteps"/>, flat after.
/// Step s is 0-based: the first optimizer step runs at peak / warmup. With no decay horizon (0) the rate stays at
/// the peak after warmup (a run limited only by wall time cannot know its length).
/// </summary>
public sealed record LearningRateSchedule(double Peak, double MinRatio, long WarmupSteps, long DecaySteps)
{
    public static LearningRateSchedule For(TrainOptions options)
    {
        long horizon = options.DecaySteps > 0 ? options.DecaySteps
            : options.MaxSteps > 0 ? options.MaxSteps
            : options.MaxBytes > 0 ? (options.MaxBytes + options.BytesPerStep - 1) / options.BytesPerStep
            : 0;
        return new LearningRateSchedule(options.Lr, options.MinLrRatio, options.WarmupSteps, horizon);
    }

    public double At(long step)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        if (DecaySteps <= 0) return Peak;
        double minimum = Peak * MinRatio;
        if (step >= DecaySteps) return minimum;
        double progress = (double)(step - WarmupSteps) / Math.Max(1, DecaySteps - WarmupSteps);
        return minimum + 0.5 * (Peak - minimum) * (1 + Math.Cos(Math.PI * progress));
    }
}
