namespace MambaByte.Train.Bench;

/// <summary>
/// One data-parallel training measurement under <c>mpiexec -n Ranks</c>, as rank 0 saw it: medians over the timed
/// steps of the whole step (forward, backward, gradient allreduce, clip, AdamW) and of the allreduce part (the copies
/// into and out of the buckets, the MPI call, and any wait for the slower rank).
/// </summary>
public sealed record MpiScalingRow(
    int Ranks,
    string Preset,
    int Context,
    long Parameters,
    int Steps,
    double StepSeconds,
    double AllreduceSeconds,
    long GradientBytes,
    string Library)
{
    /// <summary>Training bytes per second over all ranks (one window of <see cref="Context"/> bytes per rank per step).</summary>
    public double BytesPerSecond => (double)Ranks * Context / StepSeconds;
}
