namespace MambaByte.Train.Training;

/// <summary>
/// Linear warmup to the peak, then cosine decay to <c>peak · minRatio</c> at the end of the run's horizon, flat after.
/// Step s is 0-based: the first optimizer step runs at peak / warmup. The horizon is a step count
/// (<see cref="DecaySteps"/>) when the run has one; a run limited only by wall time has a time horizon instead
/// (<see cref="DecaySeconds"/>), and its progress through the cosine is training time so far / the time budget, so
/// the rate reaches the floor when the time limit ends the run, however many steps fit. With neither the rate stays
/// at the peak after warmup.
/// </summary>
public sealed record LearningRateSchedule(double Peak, double MinRatio, long WarmupSteps, long DecaySteps, double DecaySeconds = 0)
{
    public static LearningRateSchedule For(TrainOptions options)
    {
        long horizon = options.DecaySteps > 0 ? options.DecaySteps
            : options.MaxSteps > 0 ? options.MaxSteps
            : options.MaxBytes > 0 ? (options.MaxBytes + options.BytesPerStep - 1) / options.BytesPerStep
            : 0;
        // A step horizon wins whenever there is one, so runs with a step or byte limit resume bit for bit as before.
        double seconds = horizon == 0 ? options.MaxMinutes * 60 : 0;
        return new LearningRateSchedule(options.Lr, options.MinLrRatio, options.WarmupSteps, horizon, seconds);
    }

    /// <summary>The rate of 0-based step <paramref name="step"/>, which starts after <paramref name="elapsedSeconds"/> of training (used only with a time horizon).</summary>
    public double At(long step, double elapsedSeconds = 0)
    {
        if (step < WarmupSteps) return Peak * (step + 1) / WarmupSteps;
        double progress;
        if (DecaySteps > 0) progress = step >= DecaySteps ? 1 : (double)(step - WarmupSteps) / Math.Max(1, DecaySteps - WarmupSteps);
        else if (DecaySeconds > 0) progress = elapsedSeconds / DecaySeconds;
        else return Peak;
        double minimum = Peak * MinRatio;
        if (progress >= 1) return minimum;
        return minimum + 0.5 * (Peak - minimum) * (1 + Math.Cos(Math.PI * progress));
    }
}
