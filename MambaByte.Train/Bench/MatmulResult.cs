using MambaByte.Core.Diagnostics;

namespace MambaByte.Train.Bench;

/// <summary>fp32 n×n·n×n matrix multiply: milliseconds per product and GFLOP/s (2n³ FLOPs each).</summary>
public sealed record MatmulResult(int Size, int Repeats, Spread Milliseconds, Spread Gflops);
