using MambaByte.Core.Modules;
using MambaByte.Core.Ops;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MambaByte.Core.Architectures.Mamba;

/// <summary>
/// <c>MixerModel</c> of <c>mamba_ssm/models/mixer_seq_simple.py</c>: embedding, n_layer residual Mamba blocks,
/// final norm. Maps bytes (b, l) to normed hidden states (b, l, d_model).
/// </summary>
public sealed class MambaBackbone : nn.Module<Tensor, Tensor>
{
#pragma warning disable IDE1006 // state_dict names follow the reference
    readonly Embedding embedding;
    readonly ModuleList<MambaBlock> layers;
    readonly nn.Module<Tensor, Tensor> norm_f;
#pragma warning restore IDE1006

    public MambaBackbone(MambaConfig config) : base(nameof(MambaBackbone))
    {
        embedding = nn.Embedding(config.PaddedVocabSize, config.DModel);
        layers = new ModuleList<MambaBlock>();
        for (int i = 0; i < config.NLayer; i++) layers.Add(new MambaBlock(config));
        norm_f = config.RmsNorm ? new RMSNorm(config.DModel, config.NormEpsilon) : nn.LayerNorm(config.DModel, config.NormEpsilon);
        RegisterComponents();
    }

    public Embedding Embedding => embedding;

    public IReadOnlyList<MambaBlock> Layers => [.. layers];

    public override Tensor forward(Tensor bytes) => Forward(bytes, null, SelectiveScanKind.Auto);

    /// <summary>Parallel forward (b, l) → (b, l, d_model); with a state, continues from it and leaves it after the last byte.</summary>
    public Tensor Forward(Tensor bytes, MambaInferenceState? state, SelectiveScanKind scanKind, MixerKind mixerKind = MixerKind.Auto)
    {
        using var scope = NewDisposeScope();
        Tensor hidden = embedding.forward(bytes);                                              // (b, l, d_model)
        Tensor? residual = null;
        for (int i = 0; i < layers.Count; i++)
            (hidden, residual) = layers[i].Forward(hidden, residual, state?.Layers[i], scanKind, mixerKind);
        return FinalNorm(hidden, residual, MambaMixer.Resolve(mixerKind, scanKind, hidden) == MixerKind.Fused).MoveToOuterDisposeScope();
    }

    /// <summary>Recurrent form: bytes (b) → (b, d_model), updating every layer's state.</summary>
    public Tensor Step(Tensor bytes, MambaInferenceState state)
    {
        using var scope = NewDisposeScope();
        Tensor hidden = embedding.forward(bytes);                                              // (b, d_model)
        Tensor? residual = null;
        for (int i = 0; i < layers.Count; i++)
            (hidden, residual) = layers[i].Step(hidden, residual, state.Layers[i]);
        return FinalNorm(hidden, residual).MoveToOuterDisposeScope();
    }

    /// <summary>Mixed precision: every block's float32 parameters and the final norm back to float32.</summary>
    internal void KeepFloat32()
    {
        foreach (MambaBlock block in layers) block.KeepFloat32();
        norm_f.to(ScalarType.Float32);
    }

    // As the reference: the residual stream is cast to the final norm weight's dtype (float32 under mixed precision).
    Tensor FinalNorm(Tensor hidden, Tensor? residual, bool fused = false)
    {
        if (fused && norm_f is RMSNorm rms && residual is not null && FusedAddNorm.Supports(hidden, residual, rms.Weight, residual.dtype, rms.Weight.dtype))
            return FusedAddNorm.Apply(hidden, residual, rms.Weight, rms.Eps, rms.Weight.dtype, keepSum: false).Normed;
        Tensor sum = residual is null ? hidden : hidden + residual;
        return norm_f.forward(sum.to_type(norm_f.parameters().First().dtype));
    }
}
