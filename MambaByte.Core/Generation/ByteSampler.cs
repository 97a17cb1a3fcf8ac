namespace MambaByte.Core.Generation;

/// <summary>
/// Draws the next byte on the host from one row of 256 logits: temperature, then top-k, then top-p (nucleus),
/// then a draw from a seeded generator, so the same seed gives the same bytes on any device.
/// </summary>
public sealed class ByteSampler
{
    readonly SamplingOptions options;
    readonly SplitMix64 random;
    readonly double[] probabilities = new double[256];
    readonly int[] order = new int[256];

    public ByteSampler(SamplingOptions options)
    {
        options.Validate();
        this.options = options;
        random = new SplitMix64(options.Seed);
    }

    public byte Next(ReadOnlySpan<float> logits)
    {
        if (logits.Length != 256) throw new ArgumentException($"expected 256 logits, got {logits.Length}");
        if (options.Temperature == 0) return ArgMax(logits);

        // Softmax at the temperature, in double, shifted by the max for stability.
        double max = double.NegativeInfinity;
        foreach (float l in logits) max = Math.Max(max, l);
        for (int i = 0; i < 256; i++)
        {
            probabilities[i] = Math.Exp((logits[i] - max) / options.Temperature);
            order[i] = i;
        }
        // Stable order: higher probability first, ties by byte value, so filtering is deterministic.
        Array.Sort(order, (a, b) => probabilities[a] != probabilities[b] ? probabilities[b].CompareTo(probabilities[a]) : a.CompareTo(b));

        int keep = options.TopK > 0 ? options.TopK : 256;
        double total = 0;
        for (int i = 0; i < keep; i++) total += probabilities[order[i]];
        if (options.TopP < 1)
        {
            // Nucleus: the smallest prefix of the sorted distribution whose mass reaches top-p.
            double mass = 0;
            for (int i = 0; i < keep; i++)
            {
                mass += probabilities[order[i]] / total;
                if (mass >= options.TopP) { keep = i + 1; break; }
            }
            total = 0;
            for (int i = 0; i < keep; i++) total += probabilities[order[i]];
        }

        double u = random.NextDouble() * total;
        double cumulative = 0;
        for (int i = 0; i < keep; i++)
        {
            cumulative += probabilities[order[i]];
            if (u < cumulative) return (byte)order[i];
        }
        return (byte)order[keep - 1];
    }

    /// <summary>
    /// The distribution <see cref="Next"/> draws from, written out: softmax at the temperature, then top-k, then
    /// top-p, renormalised (temperature 0: all mass on the argmax). Speculative decoding needs it explicitly.
    /// </summary>
    public static void Distribution(SamplingOptions options, ReadOnlySpan<float> logits, Span<double> probabilities)
    {
        if (logits.Length != 256 || probabilities.Length != 256) throw new ArgumentException("expected 256 logits and 256 probabilities");
        probabilities.Clear();
        if (options.Temperature == 0)
        {
            probabilities[ArgMax(logits)] = 1;
            return;
        }
        double max = double.NegativeInfinity;
        foreach (float l in logits) max = Math.Max(max, l);
        Span<double> weights = stackalloc double[256];
        int[] order = new int[256];
        for (int i = 0; i < 256; i++)
        {
            weights[i] = Math.Exp((logits[i] - max) / options.Temperature);
            order[i] = i;
        }
        double[] w = weights.ToArray();
        Array.Sort(order, (a, b) => w[a] != w[b] ? w[b].CompareTo(w[a]) : a.CompareTo(b));
        int keep = options.TopK > 0 ? options.TopK : 256;
        double total = 0;
        for (int i = 0; i < keep; i++) total += w[order[i]];
        if (options.TopP < 1)
        {
            double mass = 0;
            for (int i = 0; i < keep; i++)
            {
                mass += w[order[i]] / total;
                if (mass >= options.TopP) { keep = i + 1; break; }
            }
            total = 0;
            for (int i = 0; i < keep; i++) total += w[order[i]];
        }
        for (int i = 0; i < keep; i++) probabilities[order[i]] = w[order[i]] / total;
    }

    /// <summary>Inverse-CDF draw of a byte from <paramref name="probabilities"/> (summing to about 1) with uniform <paramref name="u"/> in [0, 1).</summary>
    public static byte Draw(ReadOnlySpan<double> probabilities, double u)
    {
        double total = 0;
        foreach (double p in probabilities) total += p;
        double target = u * total, cumulative = 0;
        int last = 0;
        for (int i = 0; i < probabilities.Length; i++)
        {
            if (probabilities[i] <= 0) continue;
            last = i;
            cumulative += probabilities[i];
            if (target < cumulative) return (byte)i;
        }
        return (byte)last;
    }

    public static byte ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++)
            if (logits[i] > logits[best]) best = i;
        return (byte)best;
    }
}
