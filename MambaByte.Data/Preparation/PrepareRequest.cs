namespace MambaByte.Data;

/// <summary>
/// What <see cref="StorePreparer.Prepare"/> reads and writes. <see cref="SplitFractions"/> are train, validation,
/// test (summing to 1); <see cref="Separator"/> is a byte written after every document, or null for none.
/// </summary>
public sealed record PrepareRequest(
    IReadOnlyList<string> Sources,
    string OutputDirectory,
    SourceOptions? SourceOptions = null,
    IReadOnlyList<double>? SplitFractions = null,
    int? Separator = null,
    ulong Seed = 0,
    bool Overwrite = false)
{
    public static IReadOnlyList<double> DefaultSplitFractions { get; } = [0.98, 0.01, 0.01];
}
