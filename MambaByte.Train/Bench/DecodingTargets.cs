using MambaByte.Core.Architectures.Mamba;
namespace MambaByte.Train.Bench;

/// <summary>
/// Issue 18's generation targets, appended after <see cref="BenchTargets"/>' (llama.cpp's figures on the same
/// weights and machine set the absolute ones). In quick mode the plan's first and second decoding shapes stand in
/// for d_model 256 × 4 and 768 × 24, so the verdicts there only show the checks run.
/// </summary>
public static class DecodingTargets
{
    public const double MinSmallShapeBytesPerSecond = 2300;
    public const double MinLargeShapeFp32BytesPerSecond = 36;
    public const double MinLargeShapeInt8BytesPerSecond = 2 * MinLargeShapeFp32BytesPerSecond;
    public const double MinPromptBytesPerSecond = 5500;
    public const double MinSpeculativeSpeedUp = 1.5;

    public static IReadOnlyList<TargetCheck> Check(BenchPlan plan, IReadOnlyList<GenerationRow> generation, IReadOnlyList<DecodingRow> decoding,
        IReadOnlyList<SpeculativeRow> speculative)
    {
        var checks = new List<TargetCheck>();
        double worst = double.PositiveInfinity;
        foreach (GenerationRow mamba in generation.Where(g => g.Architecture == MambaConfig.ArchitectureName))
            foreach (GenerationRow other in generation.Where(g => g.Architecture != MambaConfig.ArchitectureName && g.Position == mamba.Position))
                worst = Math.Min(worst, mamba.BytesPerSecond / other.BytesPerSecond);
        checks.Add(new TargetCheck("Mamba generation bytes/s >= Transformer's and MegaByte's at every position", worst, 1.0, "x the faster other", worst >= 1.0));

        string small = BenchPlan.ShapeName(plan.DecodingShapes[0]), large = BenchPlan.ShapeName(plan.DecodingShapes[^1]);
        double smallFused = Row(decoding, small, "fused", "fp32", 1).BytesPerSecond;
        checks.Add(new TargetCheck($"Mamba {small} fused step, batch 1, fp32 >= {MinSmallShapeBytesPerSecond} bytes/s", smallFused, MinSmallShapeBytesPerSecond, "bytes/s", smallFused >= MinSmallShapeBytesPerSecond));
        double largeFp32 = Row(decoding, large, "fused", "fp32", 1).BytesPerSecond;
        checks.Add(new TargetCheck($"Mamba {large} fused step, batch 1, fp32 >= {MinLargeShapeFp32BytesPerSecond} bytes/s", largeFp32, MinLargeShapeFp32BytesPerSecond, "bytes/s", largeFp32 >= MinLargeShapeFp32BytesPerSecond));
        double largeInt8 = Row(decoding, large, "fused", "int8", 1).BytesPerSecond;
        checks.Add(new TargetCheck($"Mamba {large} fused step, batch 1, int8 >= {MinLargeShapeInt8BytesPerSecond} bytes/s", largeInt8, MinLargeShapeInt8BytesPerSecond, "bytes/s", largeInt8 >= MinLargeShapeInt8BytesPerSecond));
        DecodingRow prompt = decoding.Single(r => r.Step == "prefill");
        checks.Add(new TargetCheck($"Mamba {prompt.Shape} prompt processing ({prompt.RoundBytes} bytes) >= {MinPromptBytesPerSecond} bytes/s", prompt.BytesPerSecond, MinPromptBytesPerSecond, "bytes/s", prompt.BytesPerSecond >= MinPromptBytesPerSecond));
        if (speculative.Count > 0)
        {
            SpeculativeRow best = speculative.Where(r => r.DraftBytes > 0).MaxBy(r => r.SpeedUp)!;
            string name = $"Mamba speculative decoding (draft {best.Draft}, best K and restore: K {best.DraftBytes} {best.Restore}, acceptance {best.Acceptance:P1}) >= {MinSpeculativeSpeedUp}x plain greedy";
            checks.Add(new TargetCheck(name, best.SpeedUp, MinSpeculativeSpeedUp, "x plain", best.SpeedUp >= MinSpeculativeSpeedUp,
                best.Trained ? null : "untrained models (their acceptance means nothing): give bench --speculative-target and --speculative-draft checkpoints trained on kjv"));
        }
        return checks;
    }

    static DecodingRow Row(IReadOnlyList<DecodingRow> rows, string shape, string step, string weights, int batch) =>
        rows.Single(r => r.Shape == shape && r.Step == step && r.Weights == weights && r.Batch == batch);
}
