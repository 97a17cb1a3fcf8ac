namespace MambaByte.Core.Diagnostics;

/// <summary>Median and range (fastest, slowest) of repeated measurements, in the unit of the samples.</summary>
public sealed record Spread(double Median, double Min, double Max)
{
    public static Spread Of(IReadOnlyList<double> samples)
    {
        if (samples.Count == 0) throw new ArgumentException("spread: no samples");
        double[] sorted = samples.Order().ToArray();
        int n = sorted.Length;
        double median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
        return new Spread(median, sorted[0], sorted[^1]);
    }

    /// <summary>The spread of <c>f(sample)</c> for a decreasing <paramref name="f"/> (e.g. time → rate): min and max swap.</summary>
    public Spread Inverted(Func<double, double> f) => new(f(Median), f(Max), f(Min));
}
