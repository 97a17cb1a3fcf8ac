namespace MambaByte.Train.Bench;

/// <summary>One architecture as benchmarked: its parameter count, the ratio to Mamba's, and a short shape description.</summary>
public sealed record ModelRow(string Architecture, long Parameters, double ParametersVsMamba, string Shape);
