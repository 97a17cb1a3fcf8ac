using MambaByte.Core.Architectures.Mamba;
using static TorchSharp.torch;

namespace MambaByte.Train.Bench;

/// <summary>
/// The matrix products of a Mamba model's training step and nothing else: per layer in_proj, x_proj, dt_proj and
/// out_proj (with the config's biases), then the LM head and the loss, forward and backward, through libtorch as the
/// model runs them, in float32 or bfloat16 (logits upcast to float32 for the loss, as the model does). Each product
/// feeds the next (in_proj's x half into x_proj, its Δ columns into dt_proj, dt_proj's output into out_proj), so the
/// chain has the model's shapes without the conv, the scan, the norms or the gate. Its step time is what a Mamba
/// step would take if everything but the products took no time: the bench divides by it for the ceilings of its
/// Mamba targets (the fused mixer's speed-up, bf16 against fp32, MFU).
/// </summary>
public sealed class MambaProducts : IDisposable
{
    readonly MambaConfig config;
    readonly Tensor[] weights;    // per layer: in_proj, x_proj, dt_proj, out_proj; then lm_head
    readonly Tensor?[] biases;    // in_proj, dt_proj, out_proj biases where the config has them; lm_head has none

    public MambaProducts(MambaConfig config, ScalarType dtype, Device device, long seed)
    {
        this.config = config;
        long d = config.DModel, e = config.DInner, r = config.ResolvedDtRank, n = config.DState;
        using var scope = NewDisposeScope();                                                   // the draws' temporaries
        using var gen = new Generator(unchecked((ulong)seed));
        Tensor Make(params long[] shape) =>
            (randn(shape, generator: gen) * (1.0 / Math.Sqrt(shape[^1]))).to(dtype).to(device).requires_grad_().MoveToOuterDisposeScope();
        Tensor? MaybeBias(bool present, long size) => present ? zeros(size, dtype: dtype, device: device).requires_grad_().MoveToOuterDisposeScope() : null;
        var w = new List<Tensor>();
        var b = new List<Tensor?>();
        for (int i = 0; i < config.NLayer; i++)
        {
            w.AddRange([Make(2 * e, d), Make(r + 2 * n, e), Make(e, r), Make(d, e)]);
            b.AddRange([MaybeBias(config.Bias, 2 * e), null, MaybeBias(true, e), MaybeBias(config.Bias, d)]);
        }
        w.Add(Make(config.PaddedVocabSize, d));
        b.Add(null);
        weights = [.. w];
        biases = [.. b];
        Dtype = dtype;
    }

    public ScalarType Dtype { get; }

    /// <summary>The chain's weights and biases (per layer in_proj, x_proj, dt_proj, out_proj, with their biases; then the head).</summary>
    public IEnumerable<Tensor> Parameters => weights.Concat(biases.OfType<Tensor>());

    /// <summary>The forward FLOPs per byte of the chain's products (2·in·out each), from the weights it holds.</summary>
    public double ForwardFlopsPerByte => weights.Sum(w => 2.0 * w.shape[0] * w.shape[1]);

    /// <summary>
    /// One step: x (1, l, d_model) in <see cref="Dtype"/> through the chain, cross-entropy against target (1, l),
    /// backward into every weight and bias (their gradients set to zero first).
    /// </summary>
    public void Step(Tensor x, Tensor target)
    {
        using var scope = NewDisposeScope();
        ZeroGrad();
        Tensor logits = nn.functional.linear(Layers(x), weights[^1]).to_type(ScalarType.Float32);
        nn.functional.cross_entropy(logits.view(-1, logits.shape[^1]), target.view(-1)).backward();
    }

    /// <summary>
    /// One mixer's products, as the bench's mixer section times the mixers: hidden (1, l, d_model) through the layers'
    /// chain, (output · gradOut).sum() backward (into hidden too when it requires grad).
    /// </summary>
    public void MixerStep(Tensor hidden, Tensor gradOut)
    {
        using var scope = NewDisposeScope();
        ZeroGrad();
        (Layers(hidden) * gradOut).sum().backward();
    }

    void ZeroGrad()
    {
        foreach (Tensor t in Parameters) t.grad?.zero_();
    }

    Tensor Layers(Tensor x)
    {
        long e = config.DInner, r = config.ResolvedDtRank;
        Tensor h = x;
        for (int i = 0; i < config.NLayer; i++)
        {
            Tensor xz = nn.functional.linear(h, weights[4 * i], biases[4 * i]);
            Tensor xDbl = nn.functional.linear(xz.narrow(-1, 0, e), weights[4 * i + 1]);
            Tensor delta = nn.functional.linear(xDbl.narrow(-1, 0, r), weights[4 * i + 2], biases[4 * i + 2]);
            h = nn.functional.linear(delta, weights[4 * i + 3], biases[4 * i + 3]);
        }
        return h;
    }

    public void Dispose()
    {
        foreach (Tensor t in Parameters) t.Dispose();
    }
}
