using System.Diagnostics;

namespace MambaByte.Core.Diagnostics;

/// <summary>Warm-up runs, then timed repeats in milliseconds.</summary>
public static class Stopwatches
{
    public static Spread TimeMs(Action run, int warmup, int repeats, Action synchronize, CancellationToken cancellationToken)
    {
        if (repeats < 1) throw new ArgumentException($"bench: repeats must be at least 1, got {repeats}");
        for (int i = 0; i < warmup; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            run();
            synchronize();
        }
        var ms = new double[repeats];
        for (int i = 0; i < repeats; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            long start = Stopwatch.GetTimestamp();
            run();
            synchronize();
            ms[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        return Spread.Of(ms);
    }
}
