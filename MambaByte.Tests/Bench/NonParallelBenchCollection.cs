namespace MambaByte.Tests.Bench;

/// <summary>
/// The bench builds models (their initialisation draws from torch's process-wide generator) and changes the torch
/// thread count, so it must not run beside tests that train and compare losses exactly: xunit runs this collection alone.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class NonParallelBenchCollection
{
    public const string Name = "bench (not in parallel)";
}
