using MambaByte.Core.Native;
using MambaByte.Core.Architectures.Mamba;
using MambaByte.Core.Architectures.MegaByte;
using MambaByte.Core.Architectures.Transformer;

namespace MambaByte.Train.Bench;

/// <summary>
/// The issues' targets, each checked against figures measured side by side in the same run. In quick mode the
/// same checks run at the quick sizes (the nearest quick position stands in for 100 and 8000).
/// </summary>
public static class BenchTargets
{
    public const double MinMambaMfu = 0.60;
    public const double MinBf16Speedup = 2.0;
    public const double MinFusedMixerSpeedup = 5.0;
    public const double MaxGenerationLatencyGrowth = 1.10;
    public const double MinGenerationSpeedupVsTransformer = 2.0;
    public const double MinFusedForwardSpeedup = 20.0;
    public const double MinFusedForwardBackwardSpeedup = 10.0;

    public static IReadOnlyList<TargetCheck> Check(
        BenchPlan plan, IReadOnlyList<ScanRow> scans, IReadOnlyList<MixerRow> mixers, IReadOnlyList<TrainingRow> training,
        IReadOnlyList<GenerationRow> generation, CpuFeatures cpu)
    {
        var checks = new List<TargetCheck>();

        // Training per unit of compute: Mamba's achieved training FLOP/s (bytes/s × FLOPs/byte) against each baseline's.
        foreach (TrainingRow mamba in training.Where(r => r.Architecture == MambaConfig.ArchitectureName))
        {
            foreach (string baseline in new[] { TransformerConfig.ArchitectureName, MegaByteConfig.ArchitectureName })
            {
                TrainingRow other = Training(training, mamba.Set, mamba.Dtype, baseline, mamba.Context);
                double ratio = mamba.TrainingGflops / other.TrainingGflops;
                checks.Add(new TargetCheck($"Mamba training FLOP/s >= {Name(baseline)}'s ({mamba.Set}, {mamba.Dtype}, context {mamba.Context})",
                    ratio, 1.0, "x " + Name(baseline), ratio >= 1.0));
            }
        }

        foreach (TrainingRow mamba in training.Where(r => r.Architecture == MambaConfig.ArchitectureName && r.Set == "equal"))
            checks.Add(new TargetCheck($"Mamba training MFU >= {MinMambaMfu:P0} of the {mamba.Dtype} matmul (context {mamba.Context})",
                mamba.Mfu, MinMambaMfu, "fraction", mamba.Mfu >= MinMambaMfu, Ceiling: mamba.MfuCeiling));

        foreach (TrainingRow bf16 in training.Where(r => r.Architecture == MambaConfig.ArchitectureName && r.Dtype == "bfloat16"))
        {
            TrainingRow fp32 = Training(training, bf16.Set, "float32", MambaConfig.ArchitectureName, bf16.Context);
            double ratio = bf16.BytesPerSecond.Median / fp32.BytesPerSecond.Median;
            string? skipped = cpu.AmxBf16 ? null : $"the CPU has no AMX-BF16 (bf16 units: {cpu.Bf16Units})";
            double? ceiling = bf16.ProductsMs is { } p16 && fp32.ProductsMs is { } p32 ? p32.Median / p16.Median : null;   // the products' own bf16 speed-up
            checks.Add(new TargetCheck($"Mamba bf16 training bytes/s >= {MinBf16Speedup}x float32 on an AMX CPU ({bf16.Set}, context {bf16.Context})",
                ratio, MinBf16Speedup, "x float32", ratio >= MinBf16Speedup, skipped, ceiling));
        }

        foreach (MixerRow mixer in mixers.Where(m => BenchPlan.Quick.MixerCases.Contains((m.DModel, m.Context))))
            checks.Add(new TargetCheck($"Fused mixer forward+backward >= {MinFusedMixerSpeedup}x tensor ops (d_model {mixer.DModel}, context {mixer.Context})",
                mixer.Speedup, MinFusedMixerSpeedup, "x tensor ops", mixer.Speedup >= MinFusedMixerSpeedup, Ceiling: mixer.Ceiling));

        long nearPosition = plan.GenerationPositions[0], farPosition = plan.GenerationPositions[^1];   // 100, 8000
        double growth = Generation(generation, MambaConfig.ArchitectureName, farPosition).MsPerByte.Median / Generation(generation, MambaConfig.ArchitectureName, nearPosition).MsPerByte.Median;
        checks.Add(new TargetCheck($"Mamba ms/byte at position {farPosition} within 10% of at {nearPosition}", growth, MaxGenerationLatencyGrowth, "x latency at " + nearPosition, growth <= MaxGenerationLatencyGrowth));

        double genRatio = Generation(generation, MambaConfig.ArchitectureName, farPosition).BytesPerSecond / Generation(generation, TransformerConfig.ArchitectureName, farPosition).BytesPerSecond;
        checks.Add(new TargetCheck($"Mamba generation bytes/s at position {farPosition} >= {MinGenerationSpeedupVsTransformer}x Transformer's", genRatio, MinGenerationSpeedupVsTransformer, "x Transformer", genRatio >= MinGenerationSpeedupVsTransformer));

        foreach (ScanRow fused in scans.Where(s => s.Kind == "FusedCpu"))
        {
            checks.Add(new TargetCheck($"FusedCpu scan forward at length {fused.Length} >= {MinFusedForwardSpeedup}x Reference",
                fused.ForwardSpeedupVsReference, MinFusedForwardSpeedup, "x Reference", fused.ForwardSpeedupVsReference >= MinFusedForwardSpeedup));
            checks.Add(new TargetCheck($"FusedCpu scan forward+backward at length {fused.Length} >= {MinFusedForwardBackwardSpeedup}x Reference",
                fused.ForwardBackwardSpeedupVsReference, MinFusedForwardBackwardSpeedup, "x Reference", fused.ForwardBackwardSpeedupVsReference >= MinFusedForwardBackwardSpeedup));
        }
        return checks;
    }

    static string Name(string architecture) => architecture == MegaByteConfig.ArchitectureName ? "MegaByte" : "Transformer";

    static TrainingRow Training(IReadOnlyList<TrainingRow> rows, string set, string dtype, string architecture, int context) =>
        rows.Single(r => r.Set == set && r.Dtype == dtype && r.Architecture == architecture && r.Context == context);

    static GenerationRow Generation(IReadOnlyList<GenerationRow> rows, string architecture, long position) =>
        rows.Single(r => r.Architecture == architecture && r.Position == position);
}
