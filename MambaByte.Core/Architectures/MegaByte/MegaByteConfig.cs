using System.Text.Json.Nodes;
using MambaByte.Core.Models;
using MambaByte.Core.Modules.Attention;

namespace MambaByte.Core.Architectures.MegaByte;

/// <summary>
/// Hyperparameters of MegaByte (Yu et al. 2023; <see cref="MegaByteModel"/>). The global model runs over
/// patches of <see cref="PatchSize"/> bytes at width <see cref="DGlobal"/> = P · (byte embedding width); the
/// local model runs inside each patch at width <see cref="DLocal"/>. Both stacks use this code's pre-norm
/// RMSNorm / RoPE / SwiGLU blocks; the global input also carries a learned absolute patch position, which
/// bounds the context at <see cref="MaxContext"/> bytes.
/// </summary>
public sealed record MegaByteConfig : IModelConfig
{
    public const string ArchitectureName = "megabyte";

    public int PatchSize { get; init; } = 8;

    /// <summary>Width of the global Transformer; each byte of a patch is embedded in d_global / patch_size channels.</summary>
    public required int DGlobal { get; init; }
    public required int NGlobalLayer { get; init; }
    public required int NGlobalHead { get; init; }
    public required int DLocal { get; init; }
    public required int NLocalLayer { get; init; }
    public required int NLocalHead { get; init; }

    /// <summary>SwiGLU hidden widths; null means 8·width/3 rounded up to a multiple of 8.</summary>
    public int? DGlobalMlp { get; init; }
    public int? DLocalMlp { get; init; }

    /// <summary>Longest input in bytes (sizes the learned global position table).</summary>
    public int MaxContext { get; init; } = 8192;

    public double RopeTheta { get; init; } = 10000.0;
    public double NormEpsilon { get; init; } = 1e-5;
    public double Dropout { get; init; }

    /// <summary>Seed of the initialisation; not written to config.json (a checkpoint's weights replace it), read when present.</summary>
    public long Seed { get; init; } = 1337;

    public int ByteEmbeddingWidth => DGlobal / PatchSize;
    public int ResolvedDGlobalMlp => DGlobalMlp ?? AttentionHeads.SwiGluHidden(DGlobal);
    public int ResolvedDLocalMlp => DLocalMlp ?? AttentionHeads.SwiGluHidden(DLocal);

    /// <summary>
    /// Patches the global model can see: a window of c bytes is padded to ⌊c/P⌋+1 patches (the model predicts
    /// byte j from bytes before j, so c inputs and one more predicted position).
    /// </summary>
    public int MaxPatches => MaxContext / PatchSize + 1;

    public MegaByteConfig Validate(string source = "megabyte config")
    {
        void Require(bool ok, string key, string problem)
        {
            if (!ok) throw new InvalidDataException($"{source}: '{key}' {problem}");
        }
        Require(PatchSize > 0, "patch_size", $"must be positive, got {PatchSize}");
        Require(DGlobal > 0 && DGlobal % PatchSize == 0, "d_global", $"must be a positive multiple of patch_size {PatchSize}, got {DGlobal}");
        Require(NGlobalLayer > 0, "n_global_layer", $"must be positive, got {NGlobalLayer}");
        Require(NGlobalHead > 0 && DGlobal % NGlobalHead == 0 && DGlobal / NGlobalHead % 2 == 0, "n_global_head",
            $"must divide d_global {DGlobal} into heads of even width, got {NGlobalHead}");
        Require(DLocal > 0, "d_local", $"must be positive, got {DLocal}");
        Require(NLocalLayer > 0, "n_local_layer", $"must be positive, got {NLocalLayer}");
        Require(NLocalHead > 0 && DLocal % NLocalHead == 0 && DLocal / NLocalHead % 2 == 0, "n_local_head",
            $"must divide d_local {DLocal} into heads of even width, got {NLocalHead}");
        Require(DGlobalMlp is null or > 0, "d_global_mlp", $"must be positive, got {DGlobalMlp}");
        Require(DLocalMlp is null or > 0, "d_local_mlp", $"must be positive, got {DLocalMlp}");
        Require(MaxContext >= PatchSize, "max_context", $"must be at least patch_size {PatchSize}, got {MaxContext}");
        Require(RopeTheta > 0, "rope_theta", $"must be positive, got {RopeTheta}");
        Require(NormEpsilon > 0, "norm_epsilon", $"must be positive, got {NormEpsilon}");
        Require(Dropout is >= 0 and < 1, "dropout", $"must be in [0, 1), got {Dropout}");
        return this;
    }

    // ---- presets and the size knob ----

    /// <summary>About 40K parameters with patches of 4: for tests.</summary>
    public static MegaByteConfig Tiny => new()
    {
        PatchSize = 4, DGlobal = 32, NGlobalLayer = 1, NGlobalHead = 2, DLocal = 32, NLocalLayer = 1, NLocalHead = 2, MaxContext = 1024,
    };

    /// <summary>About 1.2M parameters.</summary>
    public static MegaByteConfig Small => new()
    {
        DGlobal = 192, NGlobalLayer = 2, NGlobalHead = 4, DLocal = 128, NLocalLayer = 2, NLocalHead = 4,
    };

    /// <summary>About 7M parameters.</summary>
    public static MegaByteConfig Medium => new()
    {
        DGlobal = 384, NGlobalLayer = 3, NGlobalHead = 6, DLocal = 256, NLocalLayer = 4, NLocalHead = 4,
    };

    /// <summary>
    /// MegaByte-193M+177M of the MambaByte paper's PG19 comparison (patch 8): global width 1024 × 15 layers,
    /// local width 1024 × 14 layers, which reproduce the reported global and local parameter counts with these blocks.
    /// </summary>
    public static MegaByteConfig MegaByte193M177M => new()
    {
        DGlobal = 1024, NGlobalLayer = 15, NGlobalHead = 16, DLocal = 1024, NLocalLayer = 14, NLocalHead = 16,
    };

    /// <summary>MegaByte-758M+262M (patch 8): global width 2048 × 15 layers, local width 1024 × 21 layers.</summary>
    public static MegaByteConfig MegaByte758M262M => new()
    {
        DGlobal = 2048, NGlobalLayer = 15, NGlobalHead = 16, DLocal = 1024, NLocalLayer = 21, NLocalHead = 16,
    };

    /// <summary>MegaByte-1.3B+350M (patch 8), the large PG19 baseline: global width 2048 × 26 layers, local width 1024 × 28 layers.</summary>
    public static MegaByteConfig MegaByte1300M350M => new()
    {
        DGlobal = 2048, NGlobalLayer = 26, NGlobalHead = 16, DLocal = 1024, NLocalLayer = 28, NLocalHead = 16,
    };

    static readonly PresetTable<MegaByteConfig> PresetsTable = new("MegaByte", new Dictionary<string, MegaByteConfig>
    {
        ["tiny"] = Tiny,
        ["small"] = Small,
        ["medium"] = Medium,
        ["megabyte-193m+177m"] = MegaByte193M177M,
        ["megabyte-758m+262m"] = MegaByte758M262M,
        ["megabyte-1.3b+350m"] = MegaByte1300M350M,
    });

    public static IReadOnlyDictionary<string, MegaByteConfig> Presets => PresetsTable.All;

    public static MegaByteConfig Preset(string name) => PresetsTable.Get(name);

    /// <summary>
    /// The single size knob: global width 128·size (rounded up to a multiple of 2P) with size layers, local
    /// width 64·size with ⌈size/2⌉ layers, heads of about 64 channels. Parameters and FLOPs grow strictly with size.
    /// </summary>
    public static MegaByteConfig FromSize(int size, int patchSize = 8)
    {
        if (size < 1) throw new ArgumentException($"MegaByte size must be at least 1, got {size}");
        if (patchSize < 1) throw new ArgumentException($"patch size must be at least 1, got {patchSize}");
        int dGlobal = (128 * size + 2 * patchSize - 1) / (2 * patchSize) * (2 * patchSize);   // even, so one head always fits RoPE
        int dLocal = 64 * size;
        return new MegaByteConfig
        {
            PatchSize = patchSize,
            DGlobal = dGlobal,
            NGlobalLayer = size,
            NGlobalHead = AttentionHeads.For(dGlobal),
            DLocal = dLocal,
            NLocalLayer = (size + 1) / 2,
            NLocalHead = AttentionHeads.For(dLocal),
        };
    }

    // ---- parameter count and analytic cost ----

    /// <summary>Trainable parameters of the model this config builds, split into the global and local parts.</summary>
    public (long Global, long Local) ParameterCounts()
    {
        long vocab = ByteLanguageModel.ByteVocabulary;
        long dg = DGlobal, hg = ResolvedDGlobalMlp, dl = DLocal, hl = ResolvedDLocalMlp;
        long global = vocab * ByteEmbeddingWidth                    // byte embeddings for the patch
                    + dg                                            // learned padding patch
                    + (long)MaxPatches * dg                         // patch positions
                    + NGlobalLayer * (4 * dg * dg + 3 * dg * hg + 2 * dg) + dg;
        long local = (long)ByteEmbeddingWidth * dl                  // global output → local width
                   + vocab * dl + dl                                // byte embeddings, padding byte
                   + NLocalLayer * (4 * dl * dl + 3 * dl * hl + 2 * dl) + dl
                   + vocab * dl;                                    // lm head
        return (global, local);
    }

    public long ParameterCount()
    {
        var (global, local) = ParameterCounts();
        return global + local;
    }

    /// <summary>Forward FLOPs of the global model for one patch that attends to <paramref name="patches"/> patches.</summary>
    private double GlobalPatchFlops(double patches)
    {
        double d = DGlobal, h = ResolvedDGlobalMlp;
        return NGlobalLayer * (2 * (4 * d * d + 3 * d * h) + 4 * d * patches);
    }

    /// <summary>Forward FLOPs of the local model and head at 0-based position <paramref name="p"/> of a patch.</summary>
    private double LocalPositionFlops(int p)
    {
        double d = DLocal, h = ResolvedDLocalMlp;
        return NLocalLayer * (2 * (4 * d * d + 3 * d * h) + 4 * d * (p + 1)) + 2.0 * ByteLanguageModel.ByteVocabulary * d;
    }

    /// <summary>FLOPs of projecting one global output position to the local width.</summary>
    private double ProjectionFlops => 2.0 * ByteEmbeddingWidth * DLocal;

    /// <summary>
    /// Training FLOPs per byte for a window of c bytes: 3 × forward / c, where the forward runs K = ⌊c/P⌋+1
    /// patches (padding included, as computed): Σ_{k&lt;K} global(k+1) + K · Σ_{p&lt;P} (projection + local(p)),
    /// global(n) = L_g·(2·(4D² + 3D·H_g) + 4D·n), local(p) = L_l·(2·(4d² + 3d·H_l) + 4d·(p+1)) + 2·256·d,
    /// projection = 2·(D/P)·d. Matmuls count 2 FLOPs per multiply-add; norms, RoPE, softmax, embeddings are left out.
    /// </summary>
    public double TrainingFlopsPerByte(int contextLength)
    {
        if (contextLength < 1) throw new ArgumentException($"context length must be positive, got {contextLength}");
        long patches = contextLength / PatchSize + 1;
        double global = 0;
        for (long k = 0; k < patches; k++) global += GlobalPatchFlops(k + 1);
        double perPatchLocal = 0;
        for (int p = 0; p < PatchSize; p++) perPatchLocal += ProjectionFlops + LocalPositionFlops(p);
        return 3 * (global + patches * perPatchLocal) / contextLength;
    }

    /// <summary>
    /// FLOPs to consume the byte at <paramref name="position"/> t and predict byte t+1 (position j = t+1 of the
    /// model, p = j mod P, k = ⌊j/P⌋): local(p), plus global(k+1) + P · projection when p = 0 (a patch boundary:
    /// one global step and the projection of the new patch's P conditioning vectors).
    /// </summary>
    public double GenerationFlopsPerByte(long position)
    {
        if (position < 0) throw new ArgumentException($"position must be non-negative, got {position}");
        long j = position + 1;
        int p = (int)(j % PatchSize);
        double flops = LocalPositionFlops(p);
        if (p == 0) flops += GlobalPatchFlops(j / PatchSize + 1) + PatchSize * ProjectionFlops;
        return flops;
    }

    // ---- config.json ----

    public JsonObject ConfigJson() => new()
    {
        ["architecture"] = ArchitectureName,
        ["vocab_size"] = ByteLanguageModel.ByteVocabulary,
        ["patch_size"] = PatchSize,
        ["d_global"] = DGlobal,
        ["n_global_layer"] = NGlobalLayer,
        ["n_global_head"] = NGlobalHead,
        ["d_global_mlp"] = ResolvedDGlobalMlp,
        ["d_local"] = DLocal,
        ["n_local_layer"] = NLocalLayer,
        ["n_local_head"] = NLocalHead,
        ["d_local_mlp"] = ResolvedDLocalMlp,
        ["max_context"] = MaxContext,
        ["rope_theta"] = RopeTheta,
        ["norm_epsilon"] = NormEpsilon,
        ["dropout"] = Dropout,
    };

    private static readonly string[] KnownKeys =
    [
        "architecture", "vocab_size", "patch_size", "d_global", "n_global_layer", "n_global_head", "d_global_mlp",
        "d_local", "n_local_layer", "n_local_head", "d_local_mlp", "max_context", "rope_theta", "norm_epsilon", "dropout", "seed",
    ];

    /// <summary>Reads what <see cref="ConfigJson"/> writes; <paramref name="source"/> names the file in errors.</summary>
    public static MegaByteConfig FromConfigJson(JsonObject json, string source = "config.json")
    {
        var reader = ConfigJsonReader.ForByteModel(json, source, ArchitectureName, KnownKeys);
        var defaults = new MegaByteConfig { DGlobal = 8, NGlobalLayer = 1, NGlobalHead = 1, DLocal = 2, NLocalLayer = 1, NLocalHead = 1 };
        return new MegaByteConfig
        {
            PatchSize = reader.Int("patch_size", defaults.PatchSize),
            DGlobal = reader.RequiredInt("d_global"),
            NGlobalLayer = reader.RequiredInt("n_global_layer"),
            NGlobalHead = reader.RequiredInt("n_global_head"),
            DGlobalMlp = reader.OptionalInt("d_global_mlp"),
            DLocal = reader.RequiredInt("d_local"),
            NLocalLayer = reader.RequiredInt("n_local_layer"),
            NLocalHead = reader.RequiredInt("n_local_head"),
            DLocalMlp = reader.OptionalInt("d_local_mlp"),
            MaxContext = reader.Int("max_context", defaults.MaxContext),
            RopeTheta = reader.Double("rope_theta", defaults.RopeTheta),
            NormEpsilon = reader.Double("norm_epsilon", defaults.NormEpsilon),
            Dropout = reader.Double("dropout", defaults.Dropout),
            Seed = reader.Long("seed", defaults.Seed),
        }.Validate(source);
    }

    // ---- the IModelConfig view ----

    string IModelConfig.Architecture => ArchitectureName;

    IModelConfig IModelConfig.WithSeed(long seed) => this with { Seed = seed };

    /// <summary>
    /// --d-model and --n-layer set the global model's width (the preset's head count when it still splits it into
    /// even heads, else heads of about 64) and depth; the learned patch positions grow to cover the training context.
    /// </summary>
    IModelConfig IModelConfig.WithOverrides(ModelOverrides overrides)
    {
        MegaByteConfig config = this;
        if (overrides.DModel > 0) config = config with { DGlobal = overrides.DModel, NGlobalHead = AttentionHeads.For(overrides.DModel, NGlobalHead) };
        if (overrides.NLayer > 0) config = config with { NGlobalLayer = overrides.NLayer };
        if (config.MaxContext < overrides.Context) config = config with { MaxContext = overrides.Context };
        return config;
    }

    public string Shape => $"patch {PatchSize}, global {DGlobal}×{NGlobalLayer} (d_mlp {ResolvedDGlobalMlp}), local {DLocal}×{NLocalLayer}, max_context {MaxContext}";

    /// <summary>The global model's MLP width: most of the cost, and linear in it.</summary>
    int? IModelConfig.FineWidth => ResolvedDGlobalMlp;

    IModelConfig IModelConfig.WithFineWidth(int width) => this with { DGlobalMlp = width };

    ByteLanguageModel IModelConfig.Build() => new MegaByteModel(this);
}
