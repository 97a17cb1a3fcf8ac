using System.Text.Json.Nodes;

namespace MambaByte.Train.Compare;

/// <summary>
/// One architecture's line in the comparison. Training numbers (steps, bytes, time, final train and validation
/// bits-per-byte, the curves) are read back from the run's own metrics.csv; the test score and generation speeds
/// are measured on the run's final checkpoint. <see cref="RunDirectory"/> is relative to the report's directory
/// (<see cref="ReportPaths"/>).
/// </summary>
public sealed record ArchitectureResult(
    string Architecture,
    string Shape,
    JsonObject Config,
    long Parameters,
    double TrainingFlopsPerByte,
    string RunDirectory,
    bool TrainedNow,
    long Steps,
    long BytesTrained,
    double TrainingFlops,
    double TrainingSeconds,
    double FinalTrainBitsPerByte,
    double? FinalValidationBitsPerByte,
    double TestBitsPerByte,
    long TestBytesScored,
    IReadOnlyList<GenerationSpeedPoint> Generation,
    IReadOnlyList<CurvePoint> TrainCurve,
    IReadOnlyList<CurvePoint> ValidationCurve)
{
    /// <summary>
    /// Document-level test bits-per-byte (lm-evaluation-harness's <c>bits_per_byte</c>, as <c>eval --method document</c>:
    /// every byte of every test document from the model's start state); null in a report written before it was measured.
    /// </summary>
    public double? DocumentBitsPerByte { get; init; }

    public long DocumentBytesScored { get; init; }

    /// <summary>Training FLOPs achieved per second: <see cref="TrainingFlops"/> / <see cref="TrainingSeconds"/> (the run's wall time, its validation passes included).</summary>
    public double TrainingFlopsPerSecond { get; init; }

    /// <summary><see cref="TrainingFlopsPerSecond"/> / the comparison's measured matmul peak (<see cref="ComparisonReport.PeakFlopsPerSecond"/>).</summary>
    public double? Mfu { get; init; }

    /// <summary>Test bits-per-byte at each <c>--contexts</c> window length.</summary>
    public IReadOnlyList<ContextPoint> ContextSweep { get; init; } = [];

    /// <summary>The model's continuation of the report's sample prompt (<see cref="ComparisonSampling"/>), prompt excluded.</summary>
    public string? Sample { get; init; }
}
