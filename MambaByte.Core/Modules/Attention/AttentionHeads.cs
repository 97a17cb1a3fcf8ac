namespace MambaByte.Core.Modules.Attention;

/// <summary>Head counts and MLP widths for a model width: the one rule the presets' overrides and the size knobs share.</summary>
public static class AttentionHeads
{
    /// <summary>Channels per head the size knobs aim for.</summary>
    public const int TargetHeadWidth = 64;

    /// <summary>
    /// The heads for <paramref name="width"/>: <paramref name="preferred"/> when it splits the width into heads of
    /// even width (rotary embeddings rotate channel pairs), else the divisor of the width nearest width/64 that does
    /// (at least 1; an odd width still fails the config's validation with its own message).
    /// </summary>
    public static int For(int width, int preferred = 0)
    {
        if (preferred > 0 && Fits(width, preferred)) return preferred;
        int heads = NearestDivisor(width, Math.Max(1, (int)Math.Round(width / (double)TargetHeadWidth)));
        while (heads > 1 && !Fits(width, heads)) heads--;
        return heads;
    }

    /// <summary>SwiGLU hidden width with the parameters of a 4·d GELU MLP: 8d/3 rounded up to a multiple of 8.</summary>
    public static int SwiGluHidden(int width) => (8 * width / 3 + 7) / 8 * 8;

    static bool Fits(int width, int heads) => width % heads == 0 && width / heads % 2 == 0;

    /// <summary>The divisor of <paramref name="width"/> nearest <paramref name="target"/> (the smaller on a tie).</summary>
    static int NearestDivisor(int width, int target)
    {
        for (int delta = 0; ; delta++)
        {
            if (target - delta >= 1 && width % (target - delta) == 0) return target - delta;
            if (width % (target + delta) == 0) return target + delta;
        }
    }
}
