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

    /// <summary>
    /// Warms several runs up together, one round calling each once in turn: at least <paramref name="minRounds"/> rounds
    /// and <paramref name="minTime"/>, then on until <paramref name="settledRounds"/> rounds or <paramref name="maxTime"/>,
    /// whichever comes first. Cheap runs need the time as much as the rounds: .NET compiles a method's optimised code
    /// only after 30 calls and a quiet 100 ms, on a background thread, so a few rounds of a millisecond-long pass are
    /// still timing tier-0 code. Returns the rounds made and the last round's duration (for <see cref="RoundsFor"/>).
    /// </summary>
    public static (int Rounds, double LastRoundMs) WarmUp(
        IReadOnlyList<Action> runs, int minRounds, int settledRounds, TimeSpan minTime, TimeSpan maxTime, Action synchronize,
        CancellationToken cancellationToken, Func<TimeSpan>? clock = null)
    {
        if (runs.Count == 0) throw new ArgumentException("bench: nothing to warm up");
        if (minRounds < 1 || settledRounds < minRounds || maxTime < minTime)
            throw new ArgumentException($"bench: warm-up needs 1 <= minRounds <= settledRounds and minTime <= maxTime, got {minRounds}, {settledRounds}, {minTime}, {maxTime}");
        long origin = Stopwatch.GetTimestamp();
        clock ??= () => Stopwatch.GetElapsedTime(origin);
        TimeSpan start = clock(), roundStart = start;
        int rounds = 0;
        double lastMs;
        while (true)
        {
            foreach (Action run in runs)
            {
                cancellationToken.ThrowIfCancellationRequested();
                run();
                synchronize();
            }
            rounds++;
            TimeSpan now = clock();
            lastMs = (now - roundStart).TotalMilliseconds;
            roundStart = now;
            TimeSpan elapsed = now - start;
            if (rounds >= minRounds && elapsed >= minTime && (rounds >= settledRounds || elapsed >= maxTime)) return (rounds, lastMs);
        }
    }

    /// <summary>
    /// How many timed rounds of <paramref name="roundMs"/> fit in <paramref name="budgetMs"/>, kept within
    /// [<paramref name="minRounds"/>, <paramref name="maxRounds"/>]: cheap cases get more samples for their median.
    /// </summary>
    public static int RoundsFor(double roundMs, double budgetMs, int minRounds, int maxRounds)
    {
        if (minRounds < 1 || maxRounds < minRounds) throw new ArgumentException($"bench: rounds need 1 <= min <= max, got {minRounds}, {maxRounds}");
        if (!(roundMs > 0)) return minRounds;
        return (int)Math.Clamp(Math.Floor(budgetMs / roundMs), minRounds, maxRounds);
    }
}
