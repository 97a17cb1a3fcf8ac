using MambaByte.Core.Diagnostics;

namespace MambaByte.Train.Bench;

/// <summary>
/// One selective-scan implementation at one length: times (ms), speed-ups over <c>Reference</c> at the same
/// length (median over median), and memory (bytes, see <see cref="MambaByte.Core.Ops.ScanBenchmark"/>).
/// </summary>
public sealed record ScanRow(
    string Kind, int Batch, int Length, int Channels, int States, int Warmup, int Repeats,
    Spread ForwardMs, Spread ForwardBackwardMs,
    double ForwardSpeedupVsReference, double ForwardBackwardSpeedupVsReference,
    long RetainedForBackwardBytes, long PeakForwardBackwardBytes);
