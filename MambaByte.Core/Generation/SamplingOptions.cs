namespace MambaByte.Core.Generation;

/// <summary>
/// How the next byte is drawn from the logits. <see cref="Temperature"/> 0 means greedy (argmax);
/// <see cref="TopK"/> 0 and <see cref="TopP"/> 1 switch those filters off.
/// </summary>
public sealed record SamplingOptions(double Temperature = 1.0, int TopK = 0, double TopP = 1.0, ulong Seed = 0)
{
    public void Validate()
    {
        if (!(Temperature >= 0) || double.IsInfinity(Temperature)) throw new ArgumentException($"--temperature {Temperature}: expected a finite number >= 0");
        if (TopK < 0 || TopK > 256) throw new ArgumentException($"--top-k {TopK}: expected 0 (off) to 256");
        if (!(TopP > 0 && TopP <= 1)) throw new ArgumentException($"--top-p {TopP}: expected a number in (0, 1]");
    }
}
