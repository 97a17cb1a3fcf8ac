using MambaByte.Core.Diagnostics;

namespace MambaByte.Train.Bench;

/// <summary>
/// One Mamba mixer (d_model, d_inner = 2·d_model, d_state 16) forward+backward on (1, context, d_model) in float32:
/// the tensor-op mixer (conv1d, transposes, the FusedCpu scan) against the fused mixer, timed alternately with the
/// mixer's four products alone (<see cref="MambaProducts.MixerStep"/>), which both mixers run as they are; Warmup
/// and Repeats are rounds of the three (<see cref="BenchPlan.MixerWarmupRounds"/>, <see cref="BenchPlan.MixerRounds"/>).
/// </summary>
public sealed record MixerRow(int DModel, int Context, int Warmup, int Repeats, Spread TensorOpsMs, Spread FusedMs, Spread ProductsMs)
{
    public double Speedup => TensorOpsMs.Median / FusedMs.Median;

    /// <summary>The speed-up a fused mixer would have if its non-product work took no time: tensor ops ÷ products alone.</summary>
    public double Ceiling => TensorOpsMs.Median / ProductsMs.Median;
}
