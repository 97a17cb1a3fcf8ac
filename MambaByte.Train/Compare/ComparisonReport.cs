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
    IReadOnlyList<ArchitectureResult> Architectures);
