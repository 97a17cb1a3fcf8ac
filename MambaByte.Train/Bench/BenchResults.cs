namespace MambaByte.Train.Bench;

/// <summary>Everything one bench run measured; serialised as the <c>--json</c> file.</summary>
public sealed record BenchResults(
    BenchMachine Machine,
    MatmulResult Matmul,
    IReadOnlyList<ScanRow> Scans,
    IReadOnlyList<ModelRow> Models,
    IReadOnlyList<MixerRow> Mixers,
    IReadOnlyList<TrainingRow> Training,
    IReadOnlyList<GenerationRow> Generation,
    IReadOnlyList<TargetCheck> Targets,
    IReadOnlyList<DecodingRow> Decoding,
    IReadOnlyList<SpeculativeRow> Speculative);
