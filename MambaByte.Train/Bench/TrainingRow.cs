using MambaByte.Core.Diagnostics;

namespace MambaByte.Train.Bench;

/// <summary>
/// One full AdamW training step (forward, loss, backward, optimizer step) on a batch of one window, in a model set
/// (<c>equal</c> or <c>medium</c>) and a dtype (float32, or bfloat16 mixed precision): step time (ms), bytes/s
/// (context ÷ step time), analytic FLOPs per byte, the median matmul GFLOP/s of the same dtype sampled in the same
/// rounds as the steps, MFU = FLOPs/byte × bytes/s ÷ that matmul FLOP/s (median figures), and the training FLOP/s
/// achieved (FLOPs/byte × bytes/s), which compares architectures per unit of training compute. Mamba rows also carry
/// the step time of the model's products alone (<see cref="MambaProducts"/>), timed in the same rounds, and from it
/// <see cref="MfuCeiling"/>: the MFU the step would have if everything but the products took no time.
/// </summary>
public sealed record TrainingRow(
    string Set, string Dtype, string Architecture, int Context, int Repeats, Spread StepMs, Spread BytesPerSecond, double FlopsPerByte,
    double MatmulGflopsSameRounds, double Mfu, Spread? ProductsMs = null)
{
    public double TrainingGflops => FlopsPerByte * BytesPerSecond.Median / 1e9;

    /// <summary>FLOPs/byte × context ÷ the products' step time ÷ the matmul FLOP/s (null for rows without <see cref="ProductsMs"/>).</summary>
    public double? MfuCeiling => ProductsMs is { } p ? FlopsPerByte * Context / (p.Median * 1e-3) / (MatmulGflopsSameRounds * 1e9) : null;
}
