namespace MambaByte.Train.Bench;

/// <summary>Where and how the bench ran.</summary>
public sealed record BenchMachine(string CpuModel, int LogicalCores, int TorchThreads, string Device, string StartedUtc, bool Quick, double LoadAverageAtStart);
