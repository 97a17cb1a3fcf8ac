namespace MambaByte.Train.Compare;

/// <summary>Everything report.json holds: the exact command, versions, settings and one result per architecture.</summary>
public sealed record ComparisonReport(
    string Command,
    ComparisonVersions Versions,
    string Data,
    string TrainSplit,
    string EvalSplit,
    string TestSplit,
    long TestBytes,
    string Match,
    string Size,
    double BudgetFlops,
    double BudgetMinutes,
    int Context,
    int BatchSize,
    long Seed,
    double Lr,
    double WallSeconds,
    IReadOnlyList<ArchitectureResult> Architectures)
{
    /// <summary>The fp32 matmul peak (<see cref="Training.PeakFlops"/>) measured once as the comparison started; MFU divides by it.</summary>
    public double PeakFlopsPerSecond { get; init; }

    /// <summary>The settings every model's sample was drawn with; null in a report written before samples existed.</summary>
    public ComparisonSampling? Sampling { get; init; }
}
