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
    IReadOnlyList<CurvePoint> ValidationCurve);
