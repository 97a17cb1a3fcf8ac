using System.Text.Json.Nodes;
using MambaByte.Core.Modules;
using MambaByte.Core.Ops;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using MambaByte.Core.Models;

namespace MambaByte.Core.Architectures.Mamba;

/// <summary>
/// The byte-level Mamba language model, <c>MambaLMHeadModel</c> of <c>mamba_ssm/models/mixer_seq_simple.py</c>.
/// <c>state_dict()</c> keys are exactly the reference's (<c>backbone.embedding.weight</c>,
/// <c>backbone.layers.{i}.mixer.in_proj.weight</c>, …, <c>backbone.norm_f.weight</c>, <c>lm_head.weight</c>), so
/// checkpoints move between this and <c>mamba_ssm</c> unchanged.
/// </summary>
public sealed class MambaLMHeadModel : ByteLanguageModel
{
#pragma warning disable IDE1006 // state_dict names follow the reference
    readonly MambaBackbone backbone;
    readonly Linear lm_head;
#pragma warning restore IDE1006

    /// <summary>
    /// Builds the model with the reference initialisation from <paramref name="seed"/> (when given it replaces the
    /// config's seed and is recorded in <see cref="Config"/>), so the same config gives the same weights. The
    /// reference initialises through torch's global generator (<c>torch.manual_seed</c>, then module defaults), so
    /// the build seeds it and afterwards puts back the state it had: building a model never moves the caller's
    /// random stream, as the baselines' own generators do not.
    /// </summary>
    public MambaLMHeadModel(MambaConfig config, long? seed = null) : base(nameof(MambaLMHeadModel))
    {
        Config = config.Validate() with { Seed = seed ?? config.Seed };
        using (GlobalRandomState.Seeded(Config.Seed))
        {
            backbone = new MambaBackbone(Config);
            lm_head = nn.Linear(Config.DModel, Config.PaddedVocabSize, hasBias: false);
            InitWeights();
        }
        if (Config.TieEmbeddings) lm_head.weight = backbone.Embedding.weight!;
        RegisterComponents();
    }

    public MambaConfig Config { get; }

    public MambaBackbone Backbone => backbone;

    /// <summary>Which selective-scan implementation the parallel forward uses (Auto: the fastest correct one for the device).</summary>
    public SelectiveScanKind ScanKind { get; set; } = SelectiveScanKind.Auto;

    /// <summary>Which mixer implementation the parallel forward uses (Auto: the fused CPU kernels where they apply, see <see cref="MambaMixer.Resolve"/>).</summary>
    public MixerKind MixerKind { get; set; } = MixerKind.Auto;

    /// <summary>
    /// Which implementation runs <see cref="Step"/>: Auto (the default) takes the fused CPU step
    /// (<see cref="FusedMambaDecoder"/>) for float32/float64 RMSNorm models on the CPU, the tensor-op reference otherwise.
    /// </summary>
    public StepKind StepKind { get; set; } = StepKind.Auto;

    /// <summary>How the fused step stores in_proj, out_proj and the head (<see cref="UseWeights"/>); fp32 by default.</summary>
    public WeightFormat Weights { get; private set; } = WeightFormat.Fp32;

    public override string Architecture => MambaConfig.ArchitectureName;

    public ScalarType DType => backbone.Embedding.weight!.dtype;

    public Device Device => backbone.Embedding.weight!.device;

    public override JsonObject ConfigJson() => Config.ToJson();

    /// <summary>bytes (b, l) int64 → logits (b, l, 256).</summary>
    public override Tensor forward(Tensor bytes)
    {
        using var scope = NewDisposeScope();
        return Head(backbone.Forward(bytes, null, ScanKind, MixerKind)).MoveToOuterDisposeScope();
    }

    public override IInferenceState NewState(int batchSize) =>
        new MambaInferenceState(batchSize, Config.NLayer, Config.DInner, Config.DConv, Config.DState, DType, Device);

    public override Tensor Prefill(Tensor bytes, IInferenceState state)
    {
        MambaInferenceState mambaState = AsMambaState(state, bytes.shape[0]);
        using var scope = NewDisposeScope();
        Tensor logits = Head(backbone.Forward(bytes, mambaState, ScanKind, MixerKind));                  // (b, l, 256)
        mambaState.Advance(bytes.shape[1]);
        return logits.MoveToOuterDisposeScope();
    }

    public override Tensor Step(Tensor bytes, IInferenceState state)
    {
        MambaInferenceState mambaState = AsMambaState(state, bytes.shape[0]);
        if (FusedStep() is FusedMambaDecoder fused)
        {
            Tensor fusedLogits = fused.Step(bytes, mambaState);                                // (b, 256)
            mambaState.Advance(1);
            return fusedLogits;
        }
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor logits = Head(backbone.Step(bytes, mambaState));                               // (b, 256)
        mambaState.Advance(1);
        return logits.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// <see cref="Step"/> without tensors: one byte per sequence in, logits (b × 256, row-major) written as float.
    /// The fused step fills the buffer directly; the reference step goes through <see cref="Step"/>.
    /// </summary>
    public override void StepInto(ReadOnlySpan<byte> bytes, IInferenceState state, Span<float> logits)
    {
        MambaInferenceState mambaState = AsMambaState(state, bytes.Length);
        if (FusedStep() is FusedMambaDecoder fused)
        {
            fused.Step(bytes, mambaState, logits);
            mambaState.Advance(1);
            return;
        }
        base.StepInto(bytes, state, logits);
    }

    /// <summary>
    /// K bytes of one sequence from <paramref name="state"/> (batch 1): logits (K × 256, row-major, float) for every
    /// position, the state advanced by K. The fused step runs it as one chunk (<see cref="FusedMambaDecoder.StepChunk"/>:
    /// products over the K rows at once, the scan position by position) and can keep the state after each position in
    /// snapshot slots firstSnapshot + t; the reference step runs it as <see cref="Prefill"/> and keeps none.
    /// </summary>
    public void StepChunkInto(ReadOnlySpan<byte> bytes, MambaInferenceState state, Span<float> logits, int firstSnapshot = -1)
    {
        AsMambaState(state, 1);
        if (FusedStep() is FusedMambaDecoder fused)
        {
            fused.StepChunk(bytes, state, logits, firstSnapshot);
            state.Advance(bytes.Length);
            return;
        }
        if (firstSnapshot >= 0) throw new NotSupportedException("per-position snapshots need the fused step (see KeepsSnapshots)");
        if (bytes.Length == 0) return;
        long[] ids = new long[bytes.Length];
        for (int i = 0; i < ids.Length; i++) ids[i] = bytes[i];
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor all = Prefill(tensor(ids, [1, ids.Length]), state);                             // (1, K, 256)
        using Tensor host = all[0].to(float32).contiguous();
        host.data<float>().CopyTo(logits[..(ids.Length * ByteVocabulary)]);
    }

    /// <summary>Whether <see cref="StepChunkInto"/> can keep per-position snapshots (it runs the fused step).</summary>
    public bool KeepsSnapshots => FusedStep() is not null;

    /// <summary>Makes <paramref name="state"/> the one kept in snapshot <paramref name="slot"/> by <see cref="StepChunkInto"/> on it (values and position).</summary>
    public void RestoreSnapshot(int slot, MambaInferenceState state)
    {
        FusedMambaDecoder fused = FusedStep() ?? throw new NotSupportedException("per-position snapshots need the fused step (see KeepsSnapshots)");
        state.RestorePosition(fused.RestoreSnapshot(slot, state));
    }

    /// <summary>
    /// Stores the inference matrices (every layer's in_proj and out_proj, and the head, which is the embedding when
    /// tied) in <paramref name="format"/>: their values in this model are replaced by the rounded ones (so the
    /// parallel forward, evaluation and both steps compute with the same weights) and the fused step keeps the
    /// compact copies. For inference only: training afterwards would not update the compact copies.
    /// </summary>
    public void UseWeights(WeightFormat format)
    {
        if (format == Weights) return;
        if (Weights != WeightFormat.Fp32) throw new InvalidOperationException($"the weights are already {Weights}; load the model again for another format");
        fusedStep = FusedMambaDecoder.Create(this, lm_head.weight!, format);
        Weights = format;
    }

    /// <summary>FLOPs of one forward byte: <see cref="MambaConfig.ForwardFlopsPerByte"/>.</summary>
    public double ForwardFlopsPerByte() => Config.ForwardFlopsPerByte();

    /// <summary>3 × the forward count (backward ≈ 2 × forward); Mamba's cost per byte does not depend on the context length.</summary>
    public override double TrainingFlopsPerByte(int contextLength) => Config.TrainingFlopsPerByte(contextLength);

    /// <summary>The recurrent step's count, the same at every position (constant time per byte).</summary>
    public override double GenerationFlopsPerByte(long position) => Config.GenerationFlopsPerByte(position);

    /// <summary>A_log and D (the reference's <c>_no_weight_decay</c>), biases and norm weights do not decay.</summary>
    public override bool DecaysWeight(string name, Tensor parameter)
    {
        string leaf = name[(name.LastIndexOf('.') + 1)..];
        if (leaf is "A_log" or "D") return false;
        return parameter.dim() >= 2;
    }

    /// <summary>Each parameter once: a tied lm_head.weight is the embedding's (PyTorch's parameters() dedupes likewise), so optimisers update it once.</summary>
    public override IEnumerable<(string name, Parameter parameter)> named_parameters(bool recurse = true) =>
        base.named_parameters(recurse).Where(p => !(Config.TieEmbeddings && p.name == "lm_head.weight"));

    public override IEnumerable<Parameter> parameters(bool recurse = true) => named_parameters(recurse).Select(p => p.parameter);

    /// <summary>As mamba_ssm's mixed precision: A_log, D, dt_proj.bias and the norm weights stay float32.</summary>
    public override bool KeepsFloat32(string name)
    {
        string leaf = name[(name.LastIndexOf('.') + 1)..];
        return leaf is "A_log" or "D" || name.EndsWith("dt_proj.bias", StringComparison.Ordinal) || name.Contains("norm", StringComparison.Ordinal);
    }

    protected override void KeepFloat32Parameters() => backbone.KeepFloat32();

    FusedMambaDecoder? fusedStep;

    /// <summary>The fused decoder when <see cref="StepKind"/> selects it, rebuilt if the weights' storage moved; null for the reference.</summary>
    FusedMambaDecoder? FusedStep()
    {
        if (StepKind == StepKind.Reference) return null;
        string? unsupported = FusedMambaDecoder.Unsupported(this);
        if (unsupported is not null)
        {
            if (StepKind == StepKind.Fused) throw new NotSupportedException(unsupported);
            return null;
        }
        nint[] signature = FusedMambaDecoder.Signature(this, lm_head.weight!);
        if (fusedStep is null || !fusedStep.Matches(signature)) fusedStep = FusedMambaDecoder.Create(this, lm_head.weight!, Weights);
        return fusedStep;
    }

    Tensor Head(Tensor hidden)
    {
        Tensor logits = lm_head.forward(hidden.to_type(lm_head.weight!.dtype));                // (..., padded vocab)
        return Config.PaddedVocabSize == ByteVocabulary ? logits : logits.narrow(-1, 0, ByteVocabulary);
    }

    static MambaInferenceState AsMambaState(IInferenceState state, long batch) => ModelInput.State<MambaInferenceState>(state, batch, "Mamba");

    // _init_weights: zero every Linear bias except dt_proj's (_no_reinit), embedding ~ N(0, 0.02²), and out_proj
    // kaiming-uniform(a=√5) scaled by 1/√n_layer (one residual per layer, as d_intermediate = 0).
    void InitWeights()
    {
        using var noGrad = no_grad();
        nn.init.normal_(backbone.Embedding.weight!, 0.0, 0.02);
        foreach (var block in backbone.Layers)
        {
            var mixer = block.Mixer;
            if (mixer.InProj.bias is not null) nn.init.zeros_(mixer.InProj.bias);
            if (mixer.OutProj.bias is not null) nn.init.zeros_(mixer.OutProj.bias);
            nn.init.kaiming_uniform_(mixer.OutProj.weight!, a: Math.Sqrt(5));
            mixer.OutProj.weight!.div_(Math.Sqrt(Config.NLayer));
        }
    }
}
