namespace MambaByte.Train.Bench;

/// <summary>
/// The targets, each checked against figures measured side by side in the same run. In quick mode the
/// same checks run at the quick sizes (the nearest quick context/position stands in for 4096, 8192, 100 and 8000).
/// </summary>
public static class BenchTargets
{
    public const double MinMambaMfu = 0.30;
    public const double MaxGenerationLatencyGrowth = 1.10;
    public const double MinGenerationSpeedupVsTransformer = 2.0;
    public const double MinFusedForwardSpeedup = 20.0;
    public const double MinFusedForwardBackwardSpeedup = 10.0;

    public static IReadOnlyList<TargetCheck> Check(
        BenchPlan plan, IReadOnlyList<ScanRow> scans, IReadOnlyList<TrainingRow> training, IReadOnlyList<GenerationRow> generation)
    {
        var checks = new List<TargetCheck>();
        int mfuContext = plan.TrainingContexts[plan.TrainingContexts.Length / 2];        // 4096 in the full plan
        int longContext = plan.TrainingContexts[^1];                                      // 8192
        long nearPosition = plan.GenerationPositions[0], farPosition = plan.GenerationPositions[^1];   // 100, 8000

        TrainingRow mambaMfu = Training(training, "mamba", mfuContext);
        checks.Add(new TargetCheck($"Mamba training MFU at context {mfuContext} >= {MinMambaMfu:P0}", mambaMfu.Mfu, MinMambaMfu, "fraction", mambaMfu.Mfu >= MinMambaMfu));

        double trainRatio = Training(training, "mamba", longContext).BytesPerSecond.Median / Training(training, "transformer", longContext).BytesPerSecond.Median;
        checks.Add(new TargetCheck($"Mamba training bytes/s at context {longContext} >= Transformer's", trainRatio, 1.0, "x Transformer", trainRatio >= 1.0));

        double growth = Generation(generation, "mamba", farPosition).MsPerByte.Median / Generation(generation, "mamba", nearPosition).MsPerByte.Median;
        checks.Add(new TargetCheck($"Mamba ms/byte at position {farPosition} within 10% of at {nearPosition}", growth, MaxGenerationLatencyGrowth, "x latency at " + nearPosition, growth <= MaxGenerationLatencyGrowth));

        double genRatio = Generation(generation, "mamba", farPosition).BytesPerSecond / Generation(generation, "transformer", farPosition).BytesPerSecond;
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

    static TrainingRow Training(IReadOnlyList<TrainingRow> rows, string architecture, int context) =>
        rows.Single(r => r.Architecture == architecture && r.Context == context);

    static GenerationRow Generation(IReadOnlyList<GenerationRow> rows, string architecture, long position) =>
        rows.Single(r => r.Architecture == architecture && r.Position == position);
}
