namespace MambaByte.Train.Bench;

/// <summary>
/// One of the targets: the measured figure, the threshold, and whether it passed. A target that does not
/// apply on this machine (bf16 speed-up on a CPU without AMX) carries a <paramref name="Skipped"/> reason instead of a verdict.
/// <paramref name="Ceiling"/>, where the bench measures one, is the figure the target would reach if everything but
/// the matrix products took no time (measured in the same run): a MISS with a ceiling below the threshold cannot be
/// closed by faster non-product kernels on this machine.
/// </summary>
public sealed record TargetCheck(string Target, double Measured, double Threshold, string Unit, bool Pass, string? Skipped = null, double? Ceiling = null);
