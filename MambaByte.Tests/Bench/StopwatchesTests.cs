using MambaByte.Core.Diagnostics;

namespace MambaByte.Tests.Bench;

/// <summary>The bench's warm-up rule and its timed-round count, on a clock the test moves by hand.</summary>
public sealed class StopwatchesTests
{
    /// <summary>A clock that advances <paramref name="msPerCall"/> on every run (every run "takes" that long).</summary>
    sealed class FakeClock(double msPerCall)
    {
        public TimeSpan Now { get; private set; }
        public int Calls { get; private set; }
        public Action Run => () => { Calls++; Now += TimeSpan.FromMilliseconds(msPerCall); };
    }

    static (int Rounds, double LastRoundMs, int Calls) Warm(double msPerRun, int runs, int minRounds, int settledRounds, double minMs, double maxMs)
    {
        var clock = new FakeClock(msPerRun);
        var (rounds, last) = Stopwatches.WarmUp(Enumerable.Repeat(clock.Run, runs).ToArray(), minRounds, settledRounds,
            TimeSpan.FromMilliseconds(minMs), TimeSpan.FromMilliseconds(maxMs), () => { }, CancellationToken.None, () => clock.Now);
        return (rounds, last, clock.Calls);
    }

    [Fact]
    public void Cheap_runs_warm_up_until_both_the_settled_rounds_and_the_minimum_time()
    {
        // three runs of 1 ms: a round is 3 ms; 60 rounds (180 ms) are not yet 1500 ms, so the time decides: 500 rounds
        var (rounds, last, calls) = Warm(1, 3, minRounds: 5, settledRounds: 60, minMs: 1500, maxMs: 4000);
        Assert.Equal(500, rounds);
        Assert.Equal(3 * 500, calls);
        Assert.Equal(3, last, 9);

        // 10 ms runs: 60 rounds take 1800 ms, past the minimum time, so the settled rounds end it
        Assert.Equal(60, Warm(10, 3, 5, 60, 1500, 4000).Rounds);
    }

    [Fact]
    public void Expensive_runs_stop_at_the_maximum_time_but_never_before_the_minimum_rounds()
    {
        // 400 ms runs: a round is 1200 ms; the 4000 ms cap is passed in round 4, but 5 rounds are the minimum
        var (rounds, last, _) = Warm(400, 3, minRounds: 5, settledRounds: 60, minMs: 1500, maxMs: 4000);
        Assert.Equal(5, rounds);
        Assert.Equal(1200, last, 9);
        // 100 ms runs: 300 ms a round; round 14 is the first at or past 4000 ms (4200)
        Assert.Equal(14, Warm(100, 3, 5, 60, 1500, 4000).Rounds);
    }

    [Fact]
    public void Rounds_fill_the_budget_within_their_bounds()
    {
        Assert.Equal(41, Stopwatches.RoundsFor(3, 3000, 7, 41));      // 1000 would fit
        Assert.Equal(30, Stopwatches.RoundsFor(100, 3000, 7, 41));
        Assert.Equal(7, Stopwatches.RoundsFor(1200, 3000, 7, 41));    // 2 would fit
        Assert.Equal(7, Stopwatches.RoundsFor(0, 3000, 7, 41));       // no measurement: the minimum
        Assert.Throws<ArgumentException>(() => Stopwatches.RoundsFor(1, 10, 8, 7));
        Assert.Throws<ArgumentException>(() => Warm(1, 1, 5, 4, 10, 20));
    }
}
