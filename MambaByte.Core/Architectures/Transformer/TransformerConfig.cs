using System.Text.Json.Nodes;
using MambaByte.Core.Models;
using MambaByte.Core.Modules.Attention;

namespace MambaByte.Core.Architectures.Transformer;

/// <summary>
/// Hyperparameters of the byte-level Transformer (<see cref="ByteTransformer"/>): decoder-only, pre-norm
/// RMSNorm, rotary positions, SwiGLU MLP, no biases. Derived sizes and the analytic costs live here so a
/// comparison can size a model without building it.
/// </summary>
public sealed record TransformerConfig : IModelConfig
{
    public const string ArchitectureName = "transformer";

    public required int DModel { get; init; }
    public required int NLayer { get; init; }
    public required int NHead { get; init; }

    /// <summary>SwiGLU hidden width; null means 8·d_model/3 rounded up to a multiple of 8 (the parameters of a 4·d GELU MLP).</summary>
    public int? DMlp { get; init; }

    public bool TieEmbeddings { get; init; } = true;
    public double RopeTheta { get; init; } = 10000.0;
    public double NormEpsilon { get; init; } = 1e-5;

    /// <summary>Dropout on attention weights and both residual branches (only while training). Off by default.</summary>
    public double Dropout { get; init; }

    /// <summary>Seed of the nanoGPT initialisation; not written to config.json (a checkpoint's weights replace it), read when present.</summary>
    public long Seed { get; init; } = 1337;

    public int ResolvedDMlp => DMlp ?? AttentionHeads.SwiGluHidden(DModel);
    public int HeadDim => DModel / NHead;

    public TransformerConfig Validate(string source = "transformer config")
    {
        void Require(bool ok, string key, string problem)
        {
            if (!ok) throw new InvalidDataException($"{source}: '{key}' {problem}");
        }
        Require(DModel > 0, "d_model", $"must be positive, got {DModel}");
        Require(NLayer > 0, "n_layer", $"must be positive, got {NLayer}");
        Require(NHead > 0 && DModel % NHead == 0, "n_head", $"must be positive and divide d_model {DModel}, got {NHead}");
        Require(HeadDim % 2 == 0, "n_head", $"must leave an even head dimension for rotary embeddings, got d_model/n_head = {HeadDim}");
        Require(DMlp is null or > 0, "d_mlp", $"must be positive, got {DMlp}");
        Require(RopeTheta > 0, "rope_theta", $"must be positive, got {RopeTheta}");
        Require(NormEpsilon > 0, "norm_epsilon", $"must be positive, got {NormEpsilon}");
        Require(Dropout is >= 0 and < 1, "dropout", $"must be in [0, 1), got {Dropout}");
        return this;
    }

    // ---- presets and the size knob ----

    /// <summary>About 30K parameters: for tests.</summary>
    public static TransformerConfig Tiny => new() { DModel = 32, NLayer = 2, NHead = 2 };

    /// <summary>About 0.8M parameters: trains in minutes on a laptop CPU.</summary>
    public static TransformerConfig Small => new() { DModel = 128, NLayer = 4, NHead = 4 };

    /// <summary>About 6.3M parameters: the largest size worth training on a CPU.</summary>
    public static TransformerConfig Medium => new() { DModel = 256, NLayer = 8, NHead = 4 };

    /// <summary>
    /// The Transformer-320M baseline of the MambaByte paper (Wang et al. 2024, PG19 comparison): d_model 1024,
    /// 16 heads; 25 of these SwiGLU/RoPE blocks give the paper's parameter count (about 315M).
    /// </summary>
    public static TransformerConfig Transformer320M => new() { DModel = 1024, NLayer = 25, NHead = 16 };

    static readonly PresetTable<TransformerConfig> PresetsTable = new("Transformer", new Dictionary<string, TransformerConfig>
    {
        ["tiny"] = Tiny,
        ["small"] = Small,
        ["medium"] = Medium,
        ["transformer-320m"] = Transformer320M,
    });

    public static IReadOnlyDictionary<string, TransformerConfig> Presets => PresetsTable.All;

    public static TransformerConfig Preset(string name) => PresetsTable.Get(name);

    /// <summary>
    /// The single size knob: d_model = 64·size, n_layer = size, head dimension 64. Parameters grow as about
    /// 12·64²·size³, strictly with size, so a comparison can search size for a parameter or FLOP budget.
    /// </summary>
    public static TransformerConfig FromSize(int size)
    {
        if (size < 1) throw new ArgumentException($"Transformer size must be at least 1, got {size}");
        return new TransformerConfig { DModel = 64 * size, NLayer = size, NHead = size };
    }

    // ---- parameter count and analytic cost ----

    /// <summary>Trainable parameters of the model this config builds (tied embeddings counted once).</summary>
    public long ParameterCount()
    {
        long d = DModel, h = ResolvedDMlp, vocab = ByteLanguageModel.ByteVocabulary;
        long perBlock = 4 * d * d + 3 * d * h + 2 * d;        // qkv + out, gate/up/down, two norm weights
        return vocab * d + NLayer * perBlock + d + (TieEmbeddings ? 0 : vocab * d);
    }

    /// <summary>Forward FLOPs of one block for one position that attends to <paramref name="keys"/> positions.</summary>
    private double BlockForwardFlops(double keys)
    {
        double d = DModel, h = ResolvedDMlp;
        return 2 * (3 * d * d + d * d + 3 * d * h)            // qkv, out, SwiGLU matmuls
             + 4 * d * keys;                                  // q·kᵀ and attention-weighted v
    }

    /// <summary>
    /// Training FLOPs per byte for a window of <paramref name="contextLength"/> bytes: 3 × forward, forward =
    /// n_layer·(8d² + 6d·d_mlp + 4d·(c+1)/2) + 2·256·d (position i attends to i+1 keys, (c+1)/2 on average).
    /// Matmuls count 2 FLOPs per multiply-add; norms, RoPE, softmax and embeddings are left out.
    /// </summary>
    public double TrainingFlopsPerByte(int contextLength)
    {
        if (contextLength < 1) throw new ArgumentException($"context length must be positive, got {contextLength}");
        double forward = NLayer * BlockForwardFlops((contextLength + 1) / 2.0) + 2.0 * ByteLanguageModel.ByteVocabulary * DModel;
        return 3 * forward;
    }

    /// <summary>
    /// FLOPs to consume the byte at <paramref name="position"/> (0-based) with the KV cache and predict the next:
    /// n_layer·(8d² + 6d·d_mlp + 4d·(position+1)) + 2·256·d; grows linearly with position.
    /// </summary>
    public double GenerationFlopsPerByte(long position)
    {
        if (position < 0) throw new ArgumentException($"position must be non-negative, got {position}");
        return NLayer * BlockForwardFlops(position + 1) + 2.0 * ByteLanguageModel.ByteVocabulary * DModel;
    }

    // ---- config.json ----

    public JsonObject ConfigJson()
    {
        var json = new JsonObject
        {
            ["architecture"] = ArchitectureName,
            ["vocab_size"] = ByteLanguageModel.ByteVocabulary,
            ["d_model"] = DModel,
            ["n_layer"] = NLayer,
            ["n_head"] = NHead,
            ["d_mlp"] = ResolvedDMlp,
            ["tie_embeddings"] = TieEmbeddings,
            ["rope_theta"] = RopeTheta,
            ["norm_epsilon"] = NormEpsilon,
            ["dropout"] = Dropout,
        };
        return json;
    }

    private static readonly string[] KnownKeys =
        ["architecture", "vocab_size", "d_model", "n_layer", "n_head", "d_mlp", "tie_embeddings", "rope_theta", "norm_epsilon", "dropout", "seed"];

    /// <summary>Reads what <see cref="ConfigJson"/> writes; <paramref name="source"/> names the file in errors.</summary>
    public static TransformerConfig FromConfigJson(JsonObject json, string source = "config.json")
    {
        var reader = ConfigJsonReader.ForByteModel(json, source, ArchitectureName, KnownKeys);
        var defaults = new TransformerConfig { DModel = 1, NLayer = 1, NHead = 1 };
        return new TransformerConfig
        {
            DModel = reader.RequiredInt("d_model"),
            NLayer = reader.RequiredInt("n_layer"),
            NHead = reader.RequiredInt("n_head"),
            DMlp = reader.OptionalInt("d_mlp"),
            TieEmbeddings = reader.Bool("tie_embeddings", defaults.TieEmbeddings),
            RopeTheta = reader.Double("rope_theta", defaults.RopeTheta),
            NormEpsilon = reader.Double("norm_epsilon", defaults.NormEpsilon),
            Dropout = reader.Double("dropout", defaults.Dropout),
            Seed = reader.Long("seed", defaults.Seed),
        }.Validate(source);
    }

    // ---- the IModelConfig view ----

    string IModelConfig.Architecture => ArchitectureName;

    IModelConfig IModelConfig.WithSeed(long seed) => this with { Seed = seed };

    /// <summary>--d-model takes the preset's head count when it still splits the width into even heads, else heads of about 64; --n-layer the depth.</summary>
    IModelConfig IModelConfig.WithOverrides(ModelOverrides overrides)
    {
        TransformerConfig config = this;
        if (overrides.DModel > 0) config = config with { DModel = overrides.DModel, NHead = AttentionHeads.For(overrides.DModel, NHead) };
        if (overrides.NLayer > 0) config = config with { NLayer = overrides.NLayer };
        return config;
    }

    public string Shape => $"d_model {DModel}, n_layer {NLayer}, n_head {NHead}, d_mlp {ResolvedDMlp}";

    int? IModelConfig.FineWidth => ResolvedDMlp;

    IModelConfig IModelConfig.WithFineWidth(int width) => this with { DMlp = width };

    ByteLanguageModel IModelConfig.Build() => new ByteTransformer(this);
}
