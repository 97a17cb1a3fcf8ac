using System.Globalization;
using System.Text.Json.Nodes;
using MambaByte.Core.Models;
using MambaByte.Core.Modules.Attention;

namespace MambaByte.Core.Architectures.SpaceByte;

/// <summary>
/// Hyperparameters of SpaceByte (Slagle 2024; <see cref="SpaceByteModel"/>), with the paper's names. Local blocks
/// of width <see cref="DLocal"/> run over every byte with attention limited to the last
/// <see cref="LocalAttentionWindow"/> bytes; global blocks of width <see cref="DGlobal"/> run only at the patch
/// starts <see cref="SpacelikeBytes"/> finds. The global width may exceed the local one: as in the paper, the local
/// activation enters the global blocks zero-padded in front (its d_local channels are the last ones) and the last
/// d_local channels of the global output are added back; no projection matrices. All blocks are this code's
/// pre-norm RMSNorm / RoPE / SwiGLU blocks, so positions come from rotary angles (byte index for local blocks,
/// patch index for global blocks) instead of the paper's learned position tables, and no context limit exists.
/// <para>
/// Fixed global context, as in the paper: a training window of l bytes runs exactly
/// <see cref="GlobalSlots"/>(l) global positions, <see cref="GlobalContextSize"/> or, when that is null, the paper's
/// default ⌊l/6⌋ (at least 1; 1365 at the paper's 8192-byte context). A window with fewer patch starts is padded
/// (the padding runs after the real patches, so causal attention keeps it from them, and adds nothing back); a
/// window with more is truncated, and its bytes after the last global position are predicted from local context
/// only. The paper drops those bytes from the loss instead; here every byte is scored, as for the other baselines.
/// Cached generation (<see cref="SpaceByteInferenceState"/>) never truncates: it equals the forward whenever the
/// window holds at most <see cref="GlobalSlots"/> patch starts.
/// </para>
/// </summary>
public sealed record SpaceByteConfig : IModelConfig
{
    public const string ArchitectureName = "spacebyte";

    /// <summary>The paper's default average patch size P: the global context ⌊l/P⌋ and the expected generation cost use it.</summary>
    public const int DefaultPatchSize = 6;

    /// <summary>Global block width (the paper's d_model, D).</summary>
    public required int DGlobal { get; init; }
    public required int NGlobalLayer { get; init; }
    public required int NGlobalHead { get; init; }

    /// <summary>Local block width (d_local); at most d_global.</summary>
    public required int DLocal { get; init; }

    /// <summary>Local blocks in total, before and after the global ones (the paper's n_local_layers).</summary>
    public required int NLocalLayer { get; init; }
    public required int NLocalHead { get; init; }

    /// <summary>Local blocks before the global ones (n_initial_layers); null means ⌊n_local_layer/2⌋.</summary>
    public int? NInitialLayer { get; init; }

    /// <summary>Bytes each local position attends to, itself included; null means d_local (the paper's default).</summary>
    public int? LocalAttentionWindow { get; init; }

    /// <summary>Global positions per training window; null means ⌊l/6⌋ for a window of l bytes (see the type's summary).</summary>
    public int? GlobalContextSize { get; init; }

    /// <summary>SwiGLU hidden widths; null means 8·width/3 rounded up to a multiple of 8.</summary>
    public int? DGlobalMlp { get; init; }
    public int? DLocalMlp { get; init; }

    public double RopeTheta { get; init; } = 10000.0;
    public double NormEpsilon { get; init; } = 1e-5;

    /// <summary>Dropout on attention weights and residual branches (only while training). Off by default.</summary>
    public double Dropout { get; init; }

    /// <summary>Seed of the initialisation; not written to config.json (a checkpoint's weights replace it), read when present.</summary>
    public long Seed { get; init; } = 1337;

    public int ResolvedDGlobalMlp => DGlobalMlp ?? AttentionHeads.SwiGluHidden(DGlobal);
    public int ResolvedDLocalMlp => DLocalMlp ?? AttentionHeads.SwiGluHidden(DLocal);
    public int ResolvedNInitialLayer => NInitialLayer ?? NLocalLayer / 2;
    public int ResolvedLocalAttentionWindow => LocalAttentionWindow ?? DLocal;

    /// <summary>Global positions a forward over <paramref name="length"/> bytes runs (real patch starts first, then padding).</summary>
    public long GlobalSlots(long length) => Math.Min(length, GlobalContextSize ?? Math.Max(1, length / DefaultPatchSize));

    public SpaceByteConfig Validate(string source = "spacebyte config")
    {
        void Require(bool ok, string key, string problem)
        {
            if (!ok) throw new InvalidDataException($"{source}: '{key}' {problem}");
        }
        Require(DLocal > 0, "d_local", $"must be positive, got {DLocal}");
        Require(DGlobal >= DLocal, "d_global", $"must be at least d_local {DLocal}, got {DGlobal}");
        Require(NGlobalLayer > 0, "n_global_layer", $"must be positive, got {NGlobalLayer}");
        Require(NGlobalHead > 0 && DGlobal % NGlobalHead == 0 && DGlobal / NGlobalHead % 2 == 0, "n_global_head",
            $"must divide d_global {DGlobal} into heads of even width, got {NGlobalHead}");
        Require(NLocalLayer > 0, "n_local_layer", $"must be positive, got {NLocalLayer}");
        Require(NLocalHead > 0 && DLocal % NLocalHead == 0 && DLocal / NLocalHead % 2 == 0, "n_local_head",
            $"must divide d_local {DLocal} into heads of even width, got {NLocalHead}");
        Require(NInitialLayer is null || (NInitialLayer >= 0 && NInitialLayer <= NLocalLayer), "n_initial_layer",
            $"must be between 0 and n_local_layer {NLocalLayer}, got {NInitialLayer}");
        Require(LocalAttentionWindow is null or > 0, "local_attention_window", $"must be positive, got {LocalAttentionWindow}");
        Require(GlobalContextSize is null or > 0, "global_context_size", $"must be positive, got {GlobalContextSize}");
        Require(DGlobalMlp is null or > 0, "d_global_mlp", $"must be positive, got {DGlobalMlp}");
        Require(DLocalMlp is null or > 0, "d_local_mlp", $"must be positive, got {DLocalMlp}");
        Require(RopeTheta > 0, "rope_theta", $"must be positive, got {RopeTheta}");
        Require(NormEpsilon > 0, "norm_epsilon", $"must be positive, got {NormEpsilon}");
        Require(Dropout is >= 0 and < 1, "dropout", $"must be in [0, 1), got {Dropout}");
        return this;
    }

    // ---- presets and the size knob ----

    /// <summary>About 70K parameters with a 16-byte local window: for tests.</summary>
    public static SpaceByteConfig Tiny => new()
    {
        DGlobal = 48, NGlobalLayer = 1, NGlobalHead = 2, DLocal = 32, NLocalLayer = 2, NLocalHead = 2, LocalAttentionWindow = 16,
    };

    /// <summary>About 1.7M parameters.</summary>
    public static SpaceByteConfig Small => new()
    {
        DGlobal = 192, NGlobalLayer = 2, NGlobalHead = 4, DLocal = 128, NLocalLayer = 4, NLocalHead = 4,
    };

    /// <summary>About 12M parameters.</summary>
    public static SpaceByteConfig Medium => new()
    {
        DGlobal = 384, NGlobalLayer = 4, NGlobalHead = 6, DLocal = 256, NLocalLayer = 6, NLocalHead = 4,
    };

    /// <summary>
    /// SpaceByte-793M+184M, the paper's PG19 model that the MambaByte paper compares against: global width 1536 ×
    /// 28 blocks (12·1536²·28 ≈ 793M), local width 768 × 26 blocks (13 before, 13 after the global ones; ≈ 184M),
    /// local attention window 768; trained on 8192-byte windows with the default global context ⌊8192/6⌋ = 1365.
    /// </summary>
    public static SpaceByteConfig SpaceByte793M184M => new()
    {
        DGlobal = 1536, NGlobalLayer = 28, NGlobalHead = 24, DLocal = 768, NLocalLayer = 26, NLocalHead = 12,
    };

    static readonly PresetTable<SpaceByteConfig> PresetsTable = new("SpaceByte", new Dictionary<string, SpaceByteConfig>
    {
        ["tiny"] = Tiny,
        ["small"] = Small,
        ["medium"] = Medium,
        ["spacebyte-793m+184m"] = SpaceByte793M184M,
    });

    public static IReadOnlyDictionary<string, SpaceByteConfig> Presets => PresetsTable.All;

    public static SpaceByteConfig Preset(string name) => PresetsTable.Get(name);

    /// <summary>
    /// The single size knob: global blocks as the Transformer's knob (width 64·size × size blocks), local blocks at
    /// the paper's half width (32·size) × max(2, size) blocks, so at least one runs before and one after the global
    /// ones; heads of about 64 channels, local window d_local. Size 1 is small enough to match Mamba's size 1 in
    /// parameters (the global blocks hold most of them) and, with a wider global MLP, in FLOPs (they run at one byte
    /// in six). Parameters and FLOPs grow strictly with size.
    /// </summary>
    public static SpaceByteConfig FromSize(int size)
    {
        if (size < 1) throw new ArgumentException($"SpaceByte size must be at least 1, got {size}");
        int dGlobal = 64 * size, dLocal = 32 * size;
        return new SpaceByteConfig
        {
            DGlobal = dGlobal,
            NGlobalLayer = size,
            NGlobalHead = AttentionHeads.For(dGlobal),
            DLocal = dLocal,
            NLocalLayer = Math.Max(2, size),
            NLocalHead = AttentionHeads.For(dLocal),
        };
    }

    // ---- parameter count and analytic cost ----

    /// <summary>Trainable parameters of the model this config builds, split into the global blocks and the rest.</summary>
    public (long Global, long Local) ParameterCounts()
    {
        long vocab = ByteLanguageModel.ByteVocabulary;
        long dg = DGlobal, hg = ResolvedDGlobalMlp, dl = DLocal, hl = ResolvedDLocalMlp;
        long global = NGlobalLayer * (4 * dg * dg + 3 * dg * hg + 2 * dg);      // qkv + out, SwiGLU, two norms
        long local = vocab * dl                                                  // byte embedding
                   + NLocalLayer * (4 * dl * dl + 3 * dl * hl + 2 * dl)
                   + dl + vocab * dl;                                            // final norm, byte head
        return (global, local);
    }

    public long ParameterCount()
    {
        var (global, local) = ParameterCounts();
        return global + local;
    }

    /// <summary>Forward FLOPs of all local blocks and the head at byte position <paramref name="t"/> (attending to min(t+1, W) keys).</summary>
    private double LocalPositionFlops(long t)
    {
        double d = DLocal, h = ResolvedDLocalMlp, keys = Math.Min(t + 1, ResolvedLocalAttentionWindow);
        return NLocalLayer * (2 * (4 * d * d + 3 * d * h) + 4 * d * keys) + 2.0 * ByteLanguageModel.ByteVocabulary * d;
    }

    /// <summary>Forward FLOPs of all global blocks at global position <paramref name="k"/> (attending to k+1 keys).</summary>
    private double GlobalPositionFlops(long k)
    {
        double d = DGlobal, h = ResolvedDGlobalMlp;
        return NGlobalLayer * (2 * (4 * d * d + 3 * d * h) + 4 * d * (k + 1));
    }

    /// <summary>
    /// Training FLOPs per byte for a window of c bytes: 3 × forward / c with forward = Σ_{t&lt;c} local(t) +
    /// Σ_{k&lt;G} global(k), G = <see cref="GlobalSlots"/>(c) (padding included, as computed),
    /// local(t) = L_l·(2·(4d² + 3d·H_l) + 4d·min(t+1, W)) + 2·256·d, global(k) = L_g·(2·(4D² + 3D·H_g) + 4D·(k+1)).
    /// Matmuls count 2 FLOPs per multiply-add; norms, RoPE, softmax, embeddings, padding and the add-back are left out.
    /// </summary>
    public double TrainingFlopsPerByte(int contextLength)
    {
        if (contextLength < 1) throw new ArgumentException($"context length must be positive, got {contextLength}");
        double forward = 0;
        for (long t = 0; t < contextLength; t++) forward += LocalPositionFlops(t);
        long slots = GlobalSlots(contextLength);
        for (long k = 0; k < slots; k++) forward += GlobalPositionFlops(k);
        return 3 * forward / contextLength;
    }

    /// <summary>
    /// Expected FLOPs to consume the byte at <paramref name="position"/> t and predict the next: local(t) plus, since
    /// whether t starts a patch depends on the text, the global step of patch ⌊t/6⌋ weighted by 1/6 (one patch start
    /// per 6 bytes, the paper's average patch size): local(t) + global(⌊t/6⌋)/6.
    /// </summary>
    public double GenerationFlopsPerByte(long position)
    {
        if (position < 0) throw new ArgumentException($"position must be non-negative, got {position}");
        return LocalPositionFlops(position) + GlobalPositionFlops(position / DefaultPatchSize) / DefaultPatchSize;
    }

    // ---- config.json ----

    public JsonObject ConfigJson()
    {
        var json = new JsonObject
        {
            ["architecture"] = ArchitectureName,
            ["vocab_size"] = ByteLanguageModel.ByteVocabulary,
            ["d_global"] = DGlobal,
            ["n_global_layer"] = NGlobalLayer,
            ["n_global_head"] = NGlobalHead,
            ["d_global_mlp"] = ResolvedDGlobalMlp,
            ["d_local"] = DLocal,
            ["n_local_layer"] = NLocalLayer,
            ["n_initial_layer"] = ResolvedNInitialLayer,
            ["n_local_head"] = NLocalHead,
            ["d_local_mlp"] = ResolvedDLocalMlp,
            ["local_attention_window"] = ResolvedLocalAttentionWindow,
        };
        if (GlobalContextSize is int slots) json["global_context_size"] = slots;   // absent: ⌊l/6⌋ per window
        json["rope_theta"] = RopeTheta;
        json["norm_epsilon"] = NormEpsilon;
        json["dropout"] = Dropout;
        return json;
    }

    private static readonly string[] KnownKeys =
    [
        "architecture", "vocab_size", "d_global", "n_global_layer", "n_global_head", "d_global_mlp", "d_local", "n_local_layer",
        "n_initial_layer", "n_local_head", "d_local_mlp", "local_attention_window", "global_context_size", "rope_theta",
        "norm_epsilon", "dropout", "seed",
    ];

    /// <summary>Reads what <see cref="ConfigJson"/> writes; <paramref name="source"/> names the file in errors.</summary>
    public static SpaceByteConfig FromConfigJson(JsonObject json, string source = "config.json")
    {
        var reader = ConfigJsonReader.ForByteModel(json, source, ArchitectureName, KnownKeys);
        var defaults = new SpaceByteConfig { DGlobal = 2, NGlobalLayer = 1, NGlobalHead = 1, DLocal = 2, NLocalLayer = 1, NLocalHead = 1 };
        return new SpaceByteConfig
        {
            DGlobal = reader.RequiredInt("d_global"),
            NGlobalLayer = reader.RequiredInt("n_global_layer"),
            NGlobalHead = reader.RequiredInt("n_global_head"),
            DGlobalMlp = reader.OptionalInt("d_global_mlp"),
            DLocal = reader.RequiredInt("d_local"),
            NLocalLayer = reader.RequiredInt("n_local_layer"),
            NInitialLayer = reader.OptionalInt("n_initial_layer"),
            NLocalHead = reader.RequiredInt("n_local_head"),
            DLocalMlp = reader.OptionalInt("d_local_mlp"),
            LocalAttentionWindow = reader.OptionalInt("local_attention_window"),
            GlobalContextSize = reader.OptionalInt("global_context_size"),
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
    /// --d-model and --n-layer set the global blocks' width (the preset's head count when it still splits it into
    /// even heads, else heads of about 64) and count; a width below d_local fails validation naming both. The
    /// training context needs nothing: positions are rotary and the global context follows the window (⌊l/6⌋).
    /// </summary>
    IModelConfig IModelConfig.WithOverrides(ModelOverrides overrides)
    {
        SpaceByteConfig config = this;
        if (overrides.DModel > 0) config = config with { DGlobal = overrides.DModel, NGlobalHead = AttentionHeads.For(overrides.DModel, NGlobalHead) };
        if (overrides.NLayer > 0) config = config with { NGlobalLayer = overrides.NLayer };
        return config;
    }

    public string Shape =>
        $"global {DGlobal}×{NGlobalLayer} (d_mlp {ResolvedDGlobalMlp}), local {DLocal}×{NLocalLayer} ({ResolvedNInitialLayer} before), " +
        $"window {ResolvedLocalAttentionWindow}, global context {(GlobalContextSize is int slots ? slots.ToString(CultureInfo.InvariantCulture) : "l/6")}";

    /// <summary>The global blocks' MLP width: most of the cost, and linear in it.</summary>
    int? IModelConfig.FineWidth => ResolvedDGlobalMlp;

    IModelConfig IModelConfig.WithFineWidth(int width) => this with { DGlobalMlp = width };

    ByteLanguageModel IModelConfig.Build() => new SpaceByteModel(this);
}
