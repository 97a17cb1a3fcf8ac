using System.Globalization;
using MambaByte.Core.Checkpoints;
using MambaByte.Core.Models;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Mamba;
using MambaByte.Core.Architectures;

namespace MambaByte.Core.Export;

/// <summary>
/// Writes a Mamba checkpoint as a GGUF file for llama.cpp's <c>mamba</c> architecture, with the metadata keys,
/// tensor names and layouts its loader (<c>src/llama-model.cpp</c>, <c>LLM_ARCH_MAMBA</c>) reads, and a 256-token
/// byte vocabulary.
/// <para>Tensors (torch shape → GGUF dims, innermost first), for each layer i:</para>
/// <code>
/// backbone.embedding.weight       (256, d)       → token_embd.weight          {d, 256}
/// layers.i.norm.weight            (d)            → blk.i.attn_norm.weight     {d}
/// layers.i.mixer.in_proj.weight   (2e, d)        → blk.i.ssm_in.weight        {d, 2e}
/// layers.i.mixer.conv1d.weight    (e, 1, k)      → blk.i.ssm_conv1d.weight    {k, e}   (the 1 squeezed out)
/// layers.i.mixer.conv1d.bias      (e)            → blk.i.ssm_conv1d.bias      {e}      (zeros when conv_bias is false)
/// layers.i.mixer.x_proj.weight    (r + 2n, e)    → blk.i.ssm_x.weight         {e, r + 2n}
/// layers.i.mixer.dt_proj.weight   (e, r)         → blk.i.ssm_dt.weight        {r, e}
/// layers.i.mixer.dt_proj.bias     (e)            → blk.i.ssm_dt.bias          {e}
/// layers.i.mixer.A_log            (e, n)         → blk.i.ssm_a                {n, e}   as A = −exp(A_log)
/// layers.i.mixer.D                (e)            → blk.i.ssm_d                {e}
/// layers.i.mixer.out_proj.weight  (d, e)         → blk.i.ssm_out.weight       {e, d}
/// backbone.norm_f.weight          (d)            → output_norm.weight         {d}
/// lm_head.weight                  (256, d)       → output.weight              {d, 256} (left out when tied: llama.cpp then uses token_embd)
/// </code>
/// <para>
/// The vocabulary is llama.cpp's <c>rwkv</c> tokenizer model with 256 tokens, token b being the escaped byte
/// <c>\xHH</c>: that tokenizer matches raw bytes greedily, so text becomes exactly its bytes (token id = byte value)
/// and each token decodes to its one byte; it has no BOS/EOS, adds no space prefix and escapes no whitespace (the
/// <c>llama</c>/SPM model would turn spaces into U+2581, and <c>gpt2</c>/BPE maps bytes to other characters).
/// </para>
/// </summary>
public static class GgufMambaExporter
{
    public const string ArchitectureName = MambaConfig.ArchitectureName;   // llama.cpp names its Mamba1 architecture with the same word

    /// <summary>
    /// <c>mamba.context_length</c>: what llama.cpp's converter writes for Mamba (2^20). The recurrent state does not
    /// grow with the context, so the number only caps the sequence length a llama.cpp context will accept.
    /// </summary>
    public const uint ContextLength = 1u << 20;

    /// <summary><c>general.quantization_version</c> (ggml's GGML_QNT_VERSION), written by llama.cpp's converter into every file.</summary>
    public const uint QuantizationVersion = 2;

    /// <summary>Token b (0–255) of the byte vocabulary: <c>\x</c> and two lowercase hex digits, the escape llama.cpp's rwkv tokenizer reads.</summary>
    public static IReadOnlyList<string> ByteTokens { get; } =
        Enumerable.Range(0, ByteLanguageModel.ByteVocabulary).Select(b => "\\x" + b.ToString("x2", CultureInfo.InvariantCulture)).ToArray();

    /// <summary>f32, f16 or q8_0 (the <c>--type</c> names, as llama.cpp's converter spells its <c>--outtype</c>).</summary>
    public static GgufFileType ParseType(string name) => name.ToLowerInvariant() switch
    {
        "f32" => GgufFileType.AllF32,
        "f16" => GgufFileType.MostlyF16,
        "q8_0" => GgufFileType.MostlyQ8_0,
        _ => throw new ArgumentException($"--type {name}: expected f32, f16 or q8_0"),
    };

    public static string TypeName(GgufFileType type) => type switch
    {
        GgufFileType.AllF32 => "f32",
        GgufFileType.MostlyF16 => "f16",
        GgufFileType.MostlyQ8_0 => "q8_0",
        _ => type.ToString(),
    };

    /// <summary>
    /// Exports the model directory <paramref name="checkpointDirectory"/> (config.json + model.safetensors) to
    /// <paramref name="outPath"/>. Other architectures, and Mamba settings llama.cpp cannot run, are refused with
    /// one message naming the file; the output is written to a temporary name and renamed, so a failure leaves nothing.
    /// </summary>
    public static GgufExportResult Export(string checkpointDirectory, string outPath, GgufFileType fileType)
    {
        string configPath = Path.Combine(checkpointDirectory, ModelCheckpoint.ConfigFileName);
        var configJson = ModelFactory.ReadConfig(configPath);
        string architecture = ModelFactory.ArchitectureOf(configJson, configPath);
        if (architecture != MambaConfig.ArchitectureName)
            throw new InvalidDataException($"{configPath}: a {architecture} model; GGUF export writes llama.cpp's mamba architecture, so only Mamba checkpoints can be exported");
        CheckLlamaCppRuns(MambaConfig.FromJson(configJson, configPath), configPath);

        using ByteLanguageModel loaded = ModelCheckpoint.Load(checkpointDirectory, CPU);
        var model = (MambaLMHeadModel)loaded;
        List<GgufTensor> tensors = Tensors(model, fileType, Path.Combine(checkpointDirectory, ModelCheckpoint.WeightsFileName));
        GgufWriter.Write(outPath, Metadata(model.Config, fileType), tensors);
        var counts = tensors.GroupBy(t => t.Type).ToDictionary(g => g.Key, g => g.Count());
        return new GgufExportResult(Path.GetFullPath(outPath), new FileInfo(outPath).Length, fileType, model.Config, counts);
    }

    /// <summary>Refuses configs llama.cpp's mamba loader and graph cannot run, naming the file and the setting (<see cref="InvalidDataException"/>).</summary>
    public static void CheckLlamaCppRuns(MambaConfig config, string source)
    {
        void Require(bool ok, string problem)
        {
            if (!ok) throw new InvalidDataException($"{source}: cannot be exported for llama.cpp's mamba architecture: {problem}");
        }
        Require(config.Expand == 2, $"'ssm_cfg.expand' is {config.Expand}; llama.cpp supports only d_inner = 2·d_model");
        Require(config.RmsNorm, "'rms_norm' is false; llama.cpp's mamba uses RMSNorm");
        Require(!config.Bias, "'ssm_cfg.bias' is true; llama.cpp's mamba has no in_proj/out_proj biases");
        Require(config.PaddedVocabSize == ByteLanguageModel.ByteVocabulary,
            $"the padded vocabulary is {config.PaddedVocabSize}; the byte vocabulary needs exactly {ByteLanguageModel.ByteVocabulary}");
    }

    /// <summary>The metadata llama.cpp reads for LLM_ARCH_MAMBA, in the order llama.cpp's converter writes it, then the vocabulary.</summary>
    public static List<KeyValuePair<string, GgufValue>> Metadata(MambaConfig config, GgufFileType fileType)
    {
        const string a = ArchitectureName;
        return
        [
            new("general.architecture", GgufValue.String(a)),
            new("general.type", GgufValue.String("model")),
            new("general.name", GgufValue.String("MambaByte")),
            new($"{a}.context_length", GgufValue.UInt32(ContextLength)),
            new($"{a}.embedding_length", GgufValue.UInt32((uint)config.DModel)),
            new($"{a}.feed_forward_length", GgufValue.UInt32(0)),
            new($"{a}.attention.head_count", GgufValue.UInt32(0)),
            new($"{a}.block_count", GgufValue.UInt32((uint)config.NLayer)),
            new($"{a}.ssm.conv_kernel", GgufValue.UInt32((uint)config.DConv)),
            new($"{a}.ssm.inner_size", GgufValue.UInt32((uint)config.DInner)),
            new($"{a}.ssm.state_size", GgufValue.UInt32((uint)config.DState)),
            new($"{a}.ssm.time_step_rank", GgufValue.UInt32((uint)config.ResolvedDtRank)),
            new($"{a}.attention.layer_norm_rms_epsilon", GgufValue.Float32((float)config.NormEpsilon)),
            new($"{a}.ssm.dt_b_c_rms", GgufValue.Bool(false)),
            new("general.file_type", GgufValue.UInt32((uint)fileType)),
            new("general.quantization_version", GgufValue.UInt32(QuantizationVersion)),
            new("tokenizer.ggml.model", GgufValue.String("rwkv")),
            new("tokenizer.ggml.tokens", GgufValue.StringArray(ByteTokens)),
        ];
    }

    /// <summary>The model's tensors under llama.cpp's names and layouts, encoded for <paramref name="fileType"/>.</summary>
    public static List<GgufTensor> Tensors(MambaLMHeadModel model, GgufFileType fileType, string source = "model")
    {
        MambaConfig c = model.Config;
        var state = model.state_dict();
        float[] Values(string name)
        {
            using var scope = NewDisposeScope();
            float[] values = state[name].detach().cpu().to(ScalarType.Float32).contiguous().data<float>().ToArray();
            if (values.Any(v => !float.IsFinite(v)))
                throw new InvalidDataException($"{source}: '{name}' holds non-finite values (NaN or infinity); not exporting a broken model");
            return values;
        }

        var tensors = new List<GgufTensor>();
        void Add(string name, float[] values, params long[] torchShape)
        {
            long[] dims = torchShape.Reverse().ToArray();
            GgmlType type = TypeFor(name, dims, fileType);
            tensors.Add(new GgufTensor(name, dims, type, GgmlQuantization.Encode(type, values)));
        }

        int d = c.DModel, e = c.DInner, n = c.DState, r = c.ResolvedDtRank, k = c.DConv, v = c.PaddedVocabSize;
        Add("token_embd.weight", Values("backbone.embedding.weight"), v, d);
        for (int i = 0; i < c.NLayer; i++)
        {
            string src = $"backbone.layers.{i}.", dst = $"blk.{i}.";
            Add(dst + "attn_norm.weight", Values(src + "norm.weight"), d);
            Add(dst + "ssm_in.weight", Values(src + "mixer.in_proj.weight"), 2 * e, d);
            Add(dst + "ssm_conv1d.weight", Values(src + "mixer.conv1d.weight"), e, k);                 // (e, 1, k) squeezed
            Add(dst + "ssm_conv1d.bias", c.ConvBias ? Values(src + "mixer.conv1d.bias") : new float[e], e);
            Add(dst + "ssm_x.weight", Values(src + "mixer.x_proj.weight"), r + 2 * n, e);
            Add(dst + "ssm_dt.weight", Values(src + "mixer.dt_proj.weight"), e, r);
            Add(dst + "ssm_dt.bias", Values(src + "mixer.dt_proj.bias"), e);
            Add(dst + "ssm_a", NegativeExp(state[src + "mixer.A_log"], source), e, n);
            Add(dst + "ssm_d", Values(src + "mixer.D"), e);
            Add(dst + "ssm_out.weight", Values(src + "mixer.out_proj.weight"), d, e);
        }
        Add("output_norm.weight", Values("backbone.norm_f.weight"), d);
        if (!c.TieEmbeddings) Add("output.weight", Values("lm_head.weight"), v, d);
        return tensors;
    }

    /// <summary>
    /// The ggml type of a tensor under <paramref name="fileType"/>, by llama.cpp's converter's rule: only matrices
    /// named *.weight are converted, never norms or the conv1d kernel; a Q8_0 matrix whose rows are not a whole
    /// number of 32-value blocks falls back to F16.
    /// </summary>
    public static GgmlType TypeFor(string name, long[] dims, GgufFileType fileType)
    {
        bool convertible = dims.Length >= 2 && name.EndsWith(".weight", StringComparison.Ordinal)
            && !name.EndsWith("_norm.weight", StringComparison.Ordinal) && !name.Contains("ssm_conv1d", StringComparison.Ordinal);
        if (!convertible || fileType == GgufFileType.AllF32) return GgmlType.F32;
        if (fileType == GgufFileType.MostlyQ8_0 && dims[0] % GgmlQuantization.Q8BlockSize == 0) return GgmlType.Q8_0;
        return GgmlType.F16;
    }

    // A = −exp(A_log), computed by torch in float32 as llama.cpp's converter computes it.
    static float[] NegativeExp(Tensor aLog, string source)
    {
        using var scope = NewDisposeScope();
        float[] a = aLog.detach().cpu().to(ScalarType.Float32).exp().neg().contiguous().data<float>().ToArray();
        if (a.Any(x => !float.IsFinite(x))) throw new InvalidDataException($"{source}: 'A_log' gives non-finite A = −exp(A_log); not exporting a broken model");
        return a;
    }
}
