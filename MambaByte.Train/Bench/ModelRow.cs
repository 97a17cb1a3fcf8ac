namespace MambaByte.Train.Bench;

/// <summary>One architecture as benchmarked: its model set, parameter count, the ratio to the set's Mamba, and a short shape description.</summary>
public sealed record ModelRow(string Set, string Architecture, long Parameters, double ParametersVsMamba, string Shape);
