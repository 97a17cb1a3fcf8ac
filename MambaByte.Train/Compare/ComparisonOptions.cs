using MambaByte.Core.Native;

namespace MambaByte.Train.Compare;

/// <summary>
/// What <c>mambabyte compare</c> runs: every architecture in <see cref="Architectures"/> matched to Mamba at
/// <see cref="Size"/>, each trained under the same budget (FLOPs, or minutes of wall time per architecture) on
/// the same bytes in the same order, then scored on the same test bytes.
/// </summary>
public sealed record ComparisonOptions
{
    public required string Data { get; init; }
    public IReadOnlyList<string> Architectures { get; init; } = ArchitectureMatcher.KnownArchitectures;
    public string Match { get; init; } = ArchitectureMatcher.MatchParams;
    public string Size { get; init; } = "small";

    /// <summary>Training FLOPs each architecture may spend (0 = use <see cref="BudgetMinutes"/>).</summary>
    public double BudgetFlops { get; init; }

    /// <summary>Wall-time minutes each architecture may train (0 = use <see cref="BudgetFlops"/>).</summary>
    public double BudgetMinutes { get; init; }

    public string Out { get; init; } = "runs/compare";
    public int Context { get; init; } = 256;
    public int BatchSize { get; init; } = 8;
    public long Seed { get; init; } = 1337;
    public string Device { get; init; } = DeviceOption.Default;
    public double Lr { get; init; } = 2e-3;
    public string TrainSplit { get; init; } = "train";
    public string EvalSplit { get; init; } = "validation";
    public string TestSplit { get; init; } = "test";

    /// <summary>Evaluations on <see cref="EvalSplit"/> during each run (for the curves), spread evenly.</summary>
    public int Evaluations { get; init; } = 4;

    /// <summary>Bytes of the eval split scored per evaluation during training (0 = all).</summary>
    public long EvalBytes { get; init; } = 16384;

    /// <summary>Bytes of the test split scored at the end (0 = all).</summary>
    public long TestBytes { get; init; }

    /// <summary>Context positions (prompt lengths) at which generation speed is measured.</summary>
    public IReadOnlyList<long> GenerationPositions { get; init; } = [100, 1000, 4000];

    /// <summary>Timed generation steps per position.</summary>
    public int GenerationBytes { get; init; } = 64;

    public string CacheDir { get; init; } = "";

    /// <summary>Window lengths of the bits-per-byte-against-context table (<see cref="EvaluationContexts"/>).</summary>
    public string Contexts { get; init; } = EvaluationContexts.Default;

    /// <summary>The prompt, length and sampling settings of each model's sample in the report.</summary>
    public ComparisonSampling Sampling { get; init; } = new();

    public void Validate()
    {
        static void Check(bool ok, string message)
        {
            if (!ok) throw new ArgumentException(message);
        }
        Check(Architectures.Count > 0, "--archs: name at least one architecture");
        foreach (string a in Architectures)
            Check(ArchitectureMatcher.KnownArchitectures.Contains(a), $"--archs: unknown architecture '{a}' (known: {string.Join(", ", ArchitectureMatcher.KnownArchitectures)})");
        Check(Architectures.Distinct().Count() == Architectures.Count, "--archs: an architecture is named twice");
        Check(Match is ArchitectureMatcher.MatchParams or ArchitectureMatcher.MatchFlops, $"--match {Match}: expected params or flops");
        Check(BudgetFlops >= 0 && double.IsFinite(BudgetFlops) && BudgetMinutes >= 0 && double.IsFinite(BudgetMinutes), "--budget-flops and --budget-minutes must be non-negative numbers");
        Check((BudgetFlops > 0) != (BudgetMinutes > 0), "give exactly one budget: --budget-flops F or --budget-minutes M");
        Check(Context >= 1, $"--context {Context}: expected >= 1");
        Check(BatchSize >= 1, $"--batch-size {BatchSize}: expected >= 1");
        Check(Evaluations >= 1, $"--evaluations {Evaluations}: expected >= 1");
        Check(GenerationPositions.Count > 0 && GenerationPositions.All(p => p >= 1), "--gen-positions: expected positive integers");
        Check(GenerationBytes >= 1, $"--gen-bytes {GenerationBytes}: expected >= 1");
        _ = EvaluationContexts.Parse(Contexts, Math.Max(1, Context));
        Sampling.Validate();
    }
}
