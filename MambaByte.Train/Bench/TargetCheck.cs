namespace MambaByte.Train.Bench;

/// <summary>One of the targets: the measured figure, the threshold, and whether it passed.</summary>
public sealed record TargetCheck(string Target, double Measured, double Threshold, string Unit, bool Pass);
