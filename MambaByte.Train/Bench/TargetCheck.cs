namespace MambaByte.Train.Bench;

/// <summary>
/// One of the targets: the measured figure, the threshold, and whether it passed. A target that does not
/// apply on this machine (bf16 speed-up on a CPU without AMX) carries a <paramref name="Skipped"/> reason instead of a verdict.
/// </summary>
public sealed record TargetCheck(string Target, double Measured, double Threshold, string Unit, bool Pass, string? Skipped = null);
