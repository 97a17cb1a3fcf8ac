namespace MambaByte.Core.Ops;

/// <summary>
/// Timings (milliseconds: median, fastest, slowest over the repeats) and memory of one selective-scan
/// implementation at one shape. Memory is measured as the process's resident set, see <see cref="ScanBenchmark"/>.
/// </summary>
public sealed record ScanBenchmarkResult(
    SelectiveScanKind Kind, long Batch, long Length, long Channels, long States, string DType, int Repeats,
    double ForwardMedianMs, double ForwardMinMs, double ForwardMaxMs,
    double ForwardBackwardMedianMs, double ForwardBackwardMinMs, double ForwardBackwardMaxMs,
    long RetainedForBackwardBytes, long PeakForwardBackwardBytes, long ManagedAllocatedBytes)
{
    /// <summary>Bytes of one (b, d, l, n) tensor in the compute dtype: what a scan that kept every state would hold.</summary>
    public long PerStepStateBytes => Batch * Channels * Length * States * (DType == "float64" ? 8 : 4);
}
