using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MambaByte.Core.Models;

namespace MambaByte.Core.Architectures.Mamba;

/// <summary>
/// Hyperparameters of a Mamba language model with the reference names and defaults (<c>MambaConfig</c> in
/// <c>mamba_ssm/models/config_mamba.py</c> plus the <c>ssm_cfg</c> arguments of <c>Mamba</c> in
/// <c>mamba_ssm/modules/mamba_simple.py</c>). Derived sizes are computed here and nowhere else.
/// </summary>
public sealed record MambaConfig : IModelConfig
{
    public const string ArchitectureName = "mamba";

    public required int DModel { get; init; }
    public required int NLayer { get; init; }
    public int VocabSize { get; init; } = ByteLanguageModel.ByteVocabulary;
    public int DState { get; init; } = 16;
    public int DConv { get; init; } = 4;
    public int Expand { get; init; } = 2;

    /// <summary>null means "auto": ceil(d_model / 16).</summary>
    public int? DtRank { get; init; }

    public double DtMin { get; init; } = 0.001;
    public double DtMax { get; init; } = 0.1;

    /// <summary><c>random</c> (uniform ±dt_rank^-0.5·dt_scale) or <c>constant</c>.</summary>
    public string DtInit { get; init; } = "random";

    public double DtScale { get; init; } = 1.0;
    public double DtInitFloor { get; init; } = 1e-4;
    public bool ConvBias { get; init; } = true;
    public bool Bias { get; init; }
    public bool RmsNorm { get; init; } = true;

    /// <summary>MixerModel's <c>norm_epsilon</c>; not part of the reference config.json, written only when not 1e-5.</summary>
    public double NormEpsilon { get; init; } = 1e-5;

    public bool ResidualInFp32 { get; init; } = true;

    /// <summary>Accepted and written for compatibility; the unfused add+norm computes the same numbers.</summary>
    public bool FusedAddNorm { get; init; } = true;

    public int PadVocabSizeMultiple { get; init; } = 8;

    /// <summary>Seed of the initialisation; not in the reference config.json (a checkpoint's weights replace it), read when present.</summary>
    public long Seed { get; init; }
    public bool TieEmbeddings { get; init; } = true;

    public int DInner => Expand * DModel;
    public int ResolvedDtRank => DtRank ?? (DModel + 15) / 16;
    public int PaddedVocabSize => VocabSize % PadVocabSizeMultiple == 0
        ? VocabSize
        : VocabSize + PadVocabSizeMultiple - VocabSize % PadVocabSizeMultiple;

    /// <summary>Trainable parameters of the model this config builds, counted from the shapes (a tied head once).</summary>
    public long ParameterCount
    {
        get
        {
            long d = DModel, e = DInner, n = DState, r = ResolvedDtRank, k = DConv, v = PaddedVocabSize;
            long norm = RmsNorm ? d : 2 * d;
            long layer = d * 2 * e + (Bias ? 2 * e : 0)     // in_proj
                + e * k + (ConvBias ? e : 0)                // conv1d
                + e * (r + 2 * n)                           // x_proj
                + r * e + e                                 // dt_proj
                + e * n + e                                 // A_log, D
                + e * d + (Bias ? d : 0)                    // out_proj
                + norm;
            return v * d + NLayer * layer + norm + (TieEmbeddings ? 0 : v * d);
        }
    }

    /// <summary>Checks the values are usable; <paramref name="source"/> names the file in the message.</summary>
    public MambaConfig Validate(string source = "config")
    {
        void Require(bool ok, string key, string problem)
        {
            if (!ok) throw new InvalidDataException($"{source}: '{key}' {problem}");
        }
        Require(DModel > 0, "d_model", $"must be positive, got {DModel}");
        Require(NLayer > 0, "n_layer", $"must be positive, got {NLayer}");
        Require(VocabSize == ByteLanguageModel.ByteVocabulary, "vocab_size", $"must be {ByteLanguageModel.ByteVocabulary} for a byte model, got {VocabSize}");
        Require(DState > 0, "ssm_cfg.d_state", $"must be positive, got {DState}");
        Require(DConv > 0, "ssm_cfg.d_conv", $"must be positive, got {DConv}");
        Require(Expand > 0, "ssm_cfg.expand", $"must be positive, got {Expand}");
        Require(DtRank is null or > 0, "ssm_cfg.dt_rank", $"must be positive or \"auto\", got {DtRank}");
        Require(DtMin > 0 && DtMax >= DtMin, "ssm_cfg.dt_min", $"and dt_max must satisfy 0 < dt_min <= dt_max, got {DtMin}, {DtMax}");
        Require(DtInit is "random" or "constant", "ssm_cfg.dt_init", $"must be \"random\" or \"constant\", got \"{DtInit}\"");
        Require(PadVocabSizeMultiple > 0, "pad_vocab_size_multiple", $"must be positive, got {PadVocabSizeMultiple}");
        Require(NormEpsilon > 0, "norm_epsilon", $"must be positive, got {NormEpsilon}");
        return this;
    }

    // ---- presets ----

    /// <summary>A few-thousand-parameter model for tests.</summary>
    public static MambaConfig Tiny => new() { DModel = 16, NLayer = 2, DState = 4 };

    /// <summary>A model that trains in minutes on a laptop CPU (about 0.7M parameters).</summary>
    public static MambaConfig Small => new() { DModel = 128, NLayer = 6 };

    /// <summary>About 10M parameters: the largest size worth training on a CPU.</summary>
    public static MambaConfig Medium => new() { DModel = 256, NLayer = 24 };

    /// <summary>MambaByte-353M of the paper (Wang et al. 2024, Table 11): 53 layers, d_model 1024.</summary>
    public static MambaConfig MambaByte353M => new() { DModel = 1024, NLayer = 53 };

    /// <summary>MambaByte-972M of the paper: 48 layers, d_model 1792.</summary>
    public static MambaConfig MambaByte972M => new() { DModel = 1792, NLayer = 48 };

    static readonly PresetTable<MambaConfig> PresetsTable = new("Mamba", new Dictionary<string, MambaConfig>
    {
        ["tiny"] = Tiny,
        ["small"] = Small,
        ["medium"] = Medium,
        ["mambabyte-353m"] = MambaByte353M,
        ["mambabyte-972m"] = MambaByte972M,
    });

    public static IReadOnlyDictionary<string, MambaConfig> Presets => PresetsTable.All;

    /// <summary>Looks a preset up by name (case-insensitive): tiny, small, medium, mambabyte-353m, mambabyte-972m.</summary>
    public static MambaConfig Preset(string name) => PresetsTable.Get(name);

    // ---- config.json in the reference form ----

    /// <summary>The reference config.json form (what <c>MambaLMHeadModel.save_pretrained</c> writes).</summary>
    public JsonObject ToJson()
    {
        var ssm = new JsonObject
        {
            ["d_state"] = DState,
            ["d_conv"] = DConv,
            ["expand"] = Expand,
            ["dt_rank"] = DtRank is int rank ? JsonValue.Create(rank) : JsonValue.Create("auto"),
            ["dt_min"] = DtMin,
            ["dt_max"] = DtMax,
            ["dt_init"] = DtInit,
            ["dt_scale"] = DtScale,
            ["dt_init_floor"] = DtInitFloor,
            ["conv_bias"] = ConvBias,
            ["bias"] = Bias,
            ["layer"] = "Mamba1",
        };
        var json = new JsonObject
        {
            ["d_model"] = DModel,
            ["d_intermediate"] = 0,
            ["n_layer"] = NLayer,
            ["vocab_size"] = VocabSize,
            ["ssm_cfg"] = ssm,
            ["attn_layer_idx"] = new JsonArray(),
            ["attn_cfg"] = new JsonObject(),
            ["rms_norm"] = RmsNorm,
            ["residual_in_fp32"] = ResidualInFp32,
            ["fused_add_norm"] = FusedAddNorm,
            ["pad_vocab_size_multiple"] = PadVocabSizeMultiple,
            ["tie_embeddings"] = TieEmbeddings,
        };
        if (NormEpsilon != 1e-5) json["norm_epsilon"] = NormEpsilon;
        return json;
    }

    /// <summary>
    /// Reads the reference config.json form (missing keys take the reference defaults, except that
    /// <c>vocab_size</c> defaults to 256). Unknown keys and unsupported settings (attention layers,
    /// <c>d_intermediate</c> &gt; 0, Mamba2) fail with a message naming <paramref name="source"/> and the key.
    /// </summary>
    public static MambaConfig FromJson(JsonObject json, string source = "config.json")
    {
        var reader = new ConfigJsonReader(json, source);
        if (json["model_type"] is JsonNode modelType) return FromHuggingFaceJson(json, reader.String(modelType, "model_type"), source);
        foreach (var (key, _) in json)
            if (key is not ("d_model" or "d_intermediate" or "n_layer" or "vocab_size" or "ssm_cfg" or "attn_layer_idx" or "attn_cfg"
                or "rms_norm" or "residual_in_fp32" or "fused_add_norm" or "pad_vocab_size_multiple" or "tie_embeddings"
                or "norm_epsilon" or "architecture" or "seed"))
                throw new InvalidDataException($"{source}: unknown key '{key}'");
        if (json["architecture"] is JsonNode arch && reader.String(arch, "architecture") != ArchitectureName)
            throw new InvalidDataException($"{source}: 'architecture' is \"{arch}\", expected \"{ArchitectureName}\"");
        if (json["d_intermediate"] is JsonNode di && reader.Int(di, "d_intermediate") != 0)
            throw new InvalidDataException($"{source}: 'd_intermediate' must be 0 (MLP layers between Mamba blocks are not supported), got {di.ToJsonString()}");
        if (json["attn_layer_idx"] is JsonNode idx && (idx is not JsonArray a || a.Count != 0))
            throw new InvalidDataException($"{source}: 'attn_layer_idx' must be empty (attention layers are not supported), got {idx.ToJsonString()}");
        if (json["attn_cfg"] is JsonNode ac && (ac is not JsonObject o || o.Count != 0))
            throw new InvalidDataException($"{source}: 'attn_cfg' must be empty (attention layers are not supported), got {ac.ToJsonString()}");
        if (json["d_model"] is null) throw new InvalidDataException($"{source}: missing required key 'd_model'");
        if (json["n_layer"] is null) throw new InvalidDataException($"{source}: missing required key 'n_layer'");

        var config = new MambaConfig
        {
            DModel = reader.Int(json["d_model"]!, "d_model"),
            NLayer = reader.Int(json["n_layer"]!, "n_layer"),
        };
        if (json["vocab_size"] is JsonNode v) config = config with { VocabSize = reader.Int(v, "vocab_size") };
        if (json["rms_norm"] is JsonNode rn) config = config with { RmsNorm = reader.Bool(rn, "rms_norm") };
        if (json["residual_in_fp32"] is JsonNode rf) config = config with { ResidualInFp32 = reader.Bool(rf, "residual_in_fp32") };
        if (json["fused_add_norm"] is JsonNode fa) config = config with { FusedAddNorm = reader.Bool(fa, "fused_add_norm") };
        if (json["pad_vocab_size_multiple"] is JsonNode pv) config = config with { PadVocabSizeMultiple = reader.Int(pv, "pad_vocab_size_multiple") };
        if (json["tie_embeddings"] is JsonNode te) config = config with { TieEmbeddings = reader.Bool(te, "tie_embeddings") };
        if (json["norm_epsilon"] is JsonNode ne) config = config with { NormEpsilon = reader.Double(ne, "norm_epsilon") };
        if (json["seed"] is not null) config = config with { Seed = reader.Long("seed", 0) };

        if (json["ssm_cfg"] is JsonNode ssmNode)
        {
            if (ssmNode is not JsonObject ssm) throw new InvalidDataException($"{source}: 'ssm_cfg' must be an object");
            foreach (var (key, value) in ssm)
            {
                string k = "ssm_cfg." + key;
                config = key switch
                {
                    "d_state" => config with { DState = reader.Int(value!, k) },
                    "d_conv" => config with { DConv = reader.Int(value!, k) },
                    "expand" => config with { Expand = reader.Int(value!, k) },
                    "dt_rank" => config with { DtRank = value is JsonValue jv && jv.TryGetValue(out string? s) && s == "auto" ? null : reader.Int(value!, k) },
                    "dt_min" => config with { DtMin = reader.Double(value!, k) },
                    "dt_max" => config with { DtMax = reader.Double(value!, k) },
                    "dt_init" => config with { DtInit = reader.String(value!, k) },
                    "dt_scale" => config with { DtScale = reader.Double(value!, k) },
                    "dt_init_floor" => config with { DtInitFloor = reader.Double(value!, k) },
                    "conv_bias" => config with { ConvBias = reader.Bool(value!, k) },
                    "bias" => config with { Bias = reader.Bool(value!, k) },
                    "use_fast_path" => config,   // a kernel choice in the reference, not a model setting
                    "layer" => reader.String(value!, k) == "Mamba1"
                        ? config
                        : throw new InvalidDataException($"{source}: '{k}' is \"{reader.String(value!, k)}\"; only \"Mamba1\" is supported"),
                    _ => throw new InvalidDataException($"{source}: unknown key '{k}'"),
                };
            }
        }
        return config.Validate(source);
    }

    /// <summary>
    /// Hugging Face transformers' <c>MambaConfig</c> (<c>"model_type": "mamba"</c>): its architecture keys map to
    /// ours (hidden_size → d_model, num_hidden_layers → n_layer, state_size → d_state, conv_kernel → d_conv,
    /// time_step_* → dt_*, use_bias/use_conv_bias, layer_norm_epsilon, tie_word_embeddings); its other keys
    /// (token ids, dtype, versions, initialisation ranges) do not change the computation and are ignored.
    /// </summary>
    static MambaConfig FromHuggingFaceJson(JsonObject json, string modelType, string source)
    {
        var reader = new ConfigJsonReader(json, source);
        if (modelType != "mamba")
            throw new InvalidDataException($"{source}: 'model_type' is \"{modelType}\"; only Hugging Face \"mamba\" (Mamba1) configs are supported");
        if (json["hidden_act"] is JsonNode act && reader.String(act, "hidden_act") != "silu")
            throw new InvalidDataException($"{source}: 'hidden_act' must be \"silu\", got {act.ToJsonString()}");
        if (json["hidden_size"] is null) throw new InvalidDataException($"{source}: missing required key 'hidden_size'");
        if (json["num_hidden_layers"] is null) throw new InvalidDataException($"{source}: missing required key 'num_hidden_layers'");

        var config = new MambaConfig
        {
            DModel = reader.Int(json["hidden_size"]!, "hidden_size"),
            NLayer = reader.Int(json["num_hidden_layers"]!, "num_hidden_layers"),
            PadVocabSizeMultiple = 1,
        };
        foreach (var (key, value) in json)
        {
            config = key switch
            {
                "vocab_size" => config with { VocabSize = reader.Int(value!, key) },
                "state_size" => config with { DState = reader.Int(value!, key) },
                "conv_kernel" => config with { DConv = reader.Int(value!, key) },
                "expand" => config with { Expand = reader.Int(value!, key) },
                "time_step_rank" => config with { DtRank = value is JsonValue jv && jv.TryGetValue(out string? s) && s == "auto" ? null : reader.Int(value!, key) },
                "time_step_min" => config with { DtMin = reader.Double(value!, key) },
                "time_step_max" => config with { DtMax = reader.Double(value!, key) },
                "time_step_floor" => config with { DtInitFloor = reader.Double(value!, key) },
                "time_step_scale" => config with { DtScale = reader.Double(value!, key) },
                "time_step_init_scheme" => config with { DtInit = reader.String(value!, key) },
                "use_bias" => config with { Bias = reader.Bool(value!, key) },
                "use_conv_bias" => config with { ConvBias = reader.Bool(value!, key) },
                "layer_norm_epsilon" => config with { NormEpsilon = reader.Double(value!, key) },
                "residual_in_fp32" => config with { ResidualInFp32 = reader.Bool(value!, key) },
                "tie_word_embeddings" => config with { TieEmbeddings = reader.Bool(value!, key) },
                _ => config,
            };
        }
        return config.Validate(source);
    }

    // ---- analytic cost and the IModelConfig view ----

    /// <summary>
    /// FLOPs of one forward byte. Conventions: a matmul is 2·in·out; every elementwise add, multiply, exp, log or
    /// reciprocal is 1; SiLU = 4 (exp, add, reciprocal, multiply); softplus = 3 (exp, add, log); RMSNorm = 4·d
    /// (square, sum, scale, weight) and LayerNorm = 7·d. Per layer, with d = d_model, e = d_inner, n = d_state,
    /// r = dt_rank, k = d_conv:
    ///   residual add d + norm + in_proj 2·d·2e (+2e bias) + conv 2k·e (+e bias) + SiLU 4e + x_proj 2e(r+2n)
    ///   + dt_proj 2r·e + bias e + softplus 3e + scan 7e·n + e (exp(ΔA) 2, Δu·B 1, h update 2, C·h 2 per state;
    ///   Δ·u once) + D·u 2e + gate SiLU 4e + multiply e + out_proj 2e·d (+d bias).
    /// Then the final residual add d, final norm and the LM head 2·d·V (V the padded vocabulary). A = −exp(A_log)
    /// and the embedding lookup are not per-byte work and count 0. The recurrent step does the same work.
    /// </summary>
    public double ForwardFlopsPerByte()
    {
        double d = DModel, e = DInner, n = DState, r = ResolvedDtRank, k = DConv;
        double norm = RmsNorm ? 4 * d : 7 * d;
        double layer = d + norm
            + 2 * d * 2 * e + (Bias ? 2 * e : 0)
            + 2 * k * e + (ConvBias ? e : 0) + 4 * e
            + 2 * e * (r + 2 * n)
            + 2 * r * e + e + 3 * e
            + 7 * e * n + e
            + 2 * e
            + 4 * e + e
            + 2 * e * d + (Bias ? d : 0);
        return NLayer * layer + d + norm + 2 * d * PaddedVocabSize;
    }

    /// <summary>3 × the forward count (backward ≈ 2 × forward); Mamba's cost per byte does not depend on the context length.</summary>
    public double TrainingFlopsPerByte(int contextLength) => 3 * ForwardFlopsPerByte();

    /// <summary>The recurrent step's count, the same at every position (constant time per byte).</summary>
    public double GenerationFlopsPerByte(long position) => ForwardFlopsPerByte();

    /// <summary>The size knob of <c>compare</c>: d_model = 64·size, n_layer = 2·size (a Mamba block costs about half a Transformer block, as in the paper's pairs).</summary>
    public static MambaConfig FromSize(int size)
    {
        if (size < 1) throw new ArgumentException($"Mamba size must be at least 1, got {size}");
        return new MambaConfig { DModel = 64 * size, NLayer = 2 * size };
    }

    string IModelConfig.Architecture => ArchitectureName;

    public string Shape => $"d_model {DModel}, n_layer {NLayer}, d_state {DState}, expand {Expand}";

    IModelConfig IModelConfig.WithSeed(long seed) => this with { Seed = seed };

    JsonObject IModelConfig.ConfigJson() => ToJson();

    IModelConfig IModelConfig.WithOverrides(ModelOverrides overrides) => this with
    {
        DModel = overrides.DModel > 0 ? overrides.DModel : DModel,
        NLayer = overrides.NLayer > 0 ? overrides.NLayer : NLayer,
    };

    long IModelConfig.ParameterCount() => ParameterCount;

    /// <summary>Mamba has no MLP; compare matches the others to it and never tunes it.</summary>
    int? IModelConfig.FineWidth => null;

    IModelConfig IModelConfig.WithFineWidth(int width) => throw new NotSupportedException("Mamba has no MLP width to tune");

    ByteLanguageModel IModelConfig.Build() => new MambaLMHeadModel(this);

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"Mamba d_model={DModel} n_layer={NLayer} d_inner={DInner} d_state={DState} d_conv={DConv} dt_rank={ResolvedDtRank}");
}
