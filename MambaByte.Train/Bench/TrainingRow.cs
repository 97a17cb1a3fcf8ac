using MambaByte.Core.Diagnostics;

namespace MambaByte.Train.Bench;

/// <summary>
/// One full AdamW training step (forward, loss, backward, optimizer step) on a batch of one window:
/// step time (ms), bytes/s (context ÷ step time), analytic FLOPs per byte, the median matmul GFLOP/s sampled in the
/// same rounds as the steps, and MFU = FLOPs/byte × bytes/s ÷ that matmul FLOP/s (median figures).
/// </summary>
public sealed record TrainingRow(
    string Architecture, int Context, int Repeats, Spread StepMs, Spread BytesPerSecond, double FlopsPerByte, double MatmulGflopsSameRounds, double Mfu);
