namespace MambaByte.Core.Generation;

/// <summary>
/// A tiny explicit PRNG (Steele, Lea and Flood's SplitMix64) so sampled text depends only on the seed,
/// never on the .NET version's <see cref="Random"/> algorithm.
/// </summary>
public sealed class SplitMix64(ulong seed)
{
    ulong state = seed;

    public ulong NextUInt64()
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));
}
