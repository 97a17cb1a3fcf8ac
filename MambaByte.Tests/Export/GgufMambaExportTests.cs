using System.Text;
using MambaByte.Core.Checkpoints;
using MambaByte.Core.Export;
using MambaByte.Core.Models;
using MambaByte.Tests.Support;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Tests.Export;

/// <summary>Exporting tiny Mamba checkpoints to GGUF and reading them back.</summary>
public sealed class GgufMambaExportTests
{
    /// <summary>A tiny Mamba (d_model 16 unless given, 2 layers, d_state 4) with every weight perturbed so no tensor is a constant, saved as a checkpoint.</summary>
    internal static (string Directory, MambaLMHeadModel Model) SaveTiny(TempDir temp, bool tied = false, bool convBias = true, int dModel = 16, int nLayer = 2)
    {
        SingleThreadedTorch.Ensure();
        var model = new MambaLMHeadModel(new MambaConfig { DModel = dModel, NLayer = nLayer, DState = 4, TieEmbeddings = tied, ConvBias = convBias }, seed: 7);
        using (no_grad())
        {
            var generator = new TorchSharp.torch.Generator(21);
            foreach (var p in model.parameters()) p.add_(randn(p.shape, generator: generator) * 0.2);
        }
        string dir = temp.File("model");
        ModelCheckpoint.Save(model, dir);
        return (dir, model);
    }

    static float[] Values(MambaLMHeadModel model, string name) =>
        model.state_dict()[name].detach().contiguous().data<float>().ToArray();

    /// <summary>llama.cpp's name, our name and the GGUF dims (innermost first), written out for d 16, e 32, n 4, r 1, k 4.</summary>
    static readonly (string Gguf, string Ours, long[] Dims)[] LayerZero =
    [
        ("blk.0.attn_norm.weight", "backbone.layers.0.norm.weight", [16]),
        ("blk.0.ssm_in.weight", "backbone.layers.0.mixer.in_proj.weight", [16, 64]),
        ("blk.0.ssm_conv1d.weight", "backbone.layers.0.mixer.conv1d.weight", [4, 32]),
        ("blk.0.ssm_conv1d.bias", "backbone.layers.0.mixer.conv1d.bias", [32]),
        ("blk.0.ssm_x.weight", "backbone.layers.0.mixer.x_proj.weight", [32, 9]),
        ("blk.0.ssm_dt.weight", "backbone.layers.0.mixer.dt_proj.weight", [1, 32]),
        ("blk.0.ssm_dt.bias", "backbone.layers.0.mixer.dt_proj.bias", [32]),
        ("blk.0.ssm_d", "backbone.layers.0.mixer.D", [32]),
        ("blk.0.ssm_out.weight", "backbone.layers.0.mixer.out_proj.weight", [32, 16]),
    ];

    [Fact]
    public void F32_export_holds_every_weight_bit_for_bit_under_llama_cpp_names_and_layouts()
    {
        using var temp = new TempDir();
        var (dir, model) = SaveTiny(temp);
        using var _ = model;
        string path = temp.File("m.gguf");
        GgufExportResult result = GgufMambaExporter.Export(dir, path, GgufFileType.AllF32);
        GgufFile file = GgufReader.Read(path);

        string[] perLayer = ["attn_norm.weight", "ssm_in.weight", "ssm_conv1d.weight", "ssm_conv1d.bias", "ssm_x.weight", "ssm_dt.weight", "ssm_dt.bias", "ssm_a", "ssm_d", "ssm_out.weight"];
        string[] expectedNames = ["token_embd.weight", .. perLayer.Select(n => "blk.0." + n), .. perLayer.Select(n => "blk.1." + n), "output_norm.weight", "output.weight"];
        Assert.Equal(expectedNames, file.Tensors.Select(t => t.Name));
        Assert.All(file.Tensors, t => Assert.Equal(GgmlType.F32, t.Type));
        Assert.Equal(0u, file["general.file_type"].Value);
        Assert.Equal(23, result.TensorCount);                                       // token_embd, 2 × 10, output_norm, output
        Assert.Equal(new FileInfo(path).Length, result.Bytes);

        foreach (var (gguf, ours, dims) in LayerZero.Concat([("token_embd.weight", "backbone.embedding.weight", new long[] { 16, 256 }),
                     ("output.weight", "lm_head.weight", [16, 256]), ("output_norm.weight", "backbone.norm_f.weight", [16])]))
        {
            Assert.Equal(dims, file.Tensor(gguf).Dimensions);
            int[] expected = Values(model, ours).Select(BitConverter.SingleToInt32Bits).ToArray();
            Assert.Equal(expected, file.ReadFloats(gguf).Select(BitConverter.SingleToInt32Bits));
        }
        foreach (int layer in new[] { 0, 1 })
        {
            // A = −exp(A_log), {d_state, d_inner}: against the double-precision value (float32 exp is within an ulp or two).
            Assert.Equal([4L, 32L], file.Tensor($"blk.{layer}.ssm_a").Dimensions);
            float[] aLog = Values(model, $"backbone.layers.{layer}.mixer.A_log");
            float[] a = file.ReadFloats($"blk.{layer}.ssm_a");
            for (int i = 0; i < a.Length; i++)
            {
                double exact = -Math.Exp(aLog[i]);
                Assert.True(Math.Abs(a[i] - exact) <= 2.5e-7 * Math.Abs(exact), $"ssm_a[{i}] = {a[i]}, −exp(A_log) = {exact}");
            }
        }
    }

    [Fact]
    public void A_tied_model_has_no_output_tensor_and_a_conv_without_bias_gets_a_zero_bias()
    {
        using var temp = new TempDir();
        var (dir, model) = SaveTiny(temp, tied: true, convBias: false, nLayer: 1);
        model.Dispose();
        string path = temp.File("m.gguf");
        GgufMambaExporter.Export(dir, path, GgufFileType.AllF32);
        GgufFile file = GgufReader.Read(path);
        Assert.DoesNotContain(file.Tensors, t => t.Name == "output.weight");
        Assert.Equal(new float[32], file.ReadFloats("blk.0.ssm_conv1d.bias"));
    }

    [Fact]
    public void F16_export_rounds_matrices_to_half_within_two_to_the_minus_11_and_keeps_the_rest_exact()
    {
        using var temp = new TempDir();
        var (dir, model) = SaveTiny(temp);
        using var _ = model;
        string path = temp.File("m.gguf");
        GgufMambaExporter.Export(dir, path, GgufFileType.MostlyF16);
        GgufFile file = GgufReader.Read(path);
        Assert.Equal(1u, file["general.file_type"].Value);

        string[] half = ["token_embd.weight", "output.weight", "blk.0.ssm_in.weight", "blk.0.ssm_x.weight", "blk.0.ssm_dt.weight", "blk.0.ssm_out.weight"];
        foreach (GgufTensorInfo t in file.Tensors.Where(t => t.Name.StartsWith("blk.0.", StringComparison.Ordinal) || !t.Name.StartsWith("blk.", StringComparison.Ordinal)))
            Assert.Equal(half.Contains(t.Name) ? GgmlType.F16 : GgmlType.F32, t.Type);

        foreach (var (gguf, ours, _) in LayerZero.Concat([("token_embd.weight", "backbone.embedding.weight", Array.Empty<long>()), ("output.weight", "lm_head.weight", [])]))
        {
            float[] x = Values(model, ours), y = file.ReadFloats(gguf);
            if (!half.Contains(gguf))
            {
                Assert.Equal(x, y);
                continue;
            }
            // torch's own float16 conversion is a second implementation of the rounding.
            float[] viaTorch = model.state_dict()[ours].detach().to(ScalarType.Float16).to(ScalarType.Float32).contiguous().data<float>().ToArray();
            Assert.Equal(viaTorch, y);
            for (int i = 0; i < x.Length; i++)
                Assert.True(Math.Abs(x[i] - y[i]) <= Math.Max(Math.Abs(x[i]) * Math.Pow(2, -11), Math.Pow(2, -25)), $"{gguf}[{i}]: {x[i]} → {y[i]}");
        }
    }

    [Fact]
    public void Q8_0_export_stays_within_the_block_bound_and_uses_f16_where_rows_are_not_whole_blocks()
    {
        using var temp = new TempDir();
        var (dir, model) = SaveTiny(temp, dModel: 32, nLayer: 1);   // d 32, e 64, r 2: ssm_dt's rows of 2 cannot be Q8_0
        using var _ = model;
        string path = temp.File("m.gguf");
        GgufMambaExporter.Export(dir, path, GgufFileType.MostlyQ8_0);
        GgufFile file = GgufReader.Read(path);
        Assert.Equal(7u, file["general.file_type"].Value);

        var expectedTypes = new Dictionary<string, GgmlType>
        {
            ["token_embd.weight"] = GgmlType.Q8_0, ["output.weight"] = GgmlType.Q8_0, ["blk.0.ssm_in.weight"] = GgmlType.Q8_0,
            ["blk.0.ssm_x.weight"] = GgmlType.Q8_0, ["blk.0.ssm_out.weight"] = GgmlType.Q8_0, ["blk.0.ssm_dt.weight"] = GgmlType.F16,
            ["blk.0.ssm_conv1d.weight"] = GgmlType.F32, ["blk.0.attn_norm.weight"] = GgmlType.F32, ["blk.0.ssm_a"] = GgmlType.F32,
            ["blk.0.ssm_d"] = GgmlType.F32, ["blk.0.ssm_dt.bias"] = GgmlType.F32, ["blk.0.ssm_conv1d.bias"] = GgmlType.F32,
            ["output_norm.weight"] = GgmlType.F32,
        };
        Assert.Equal(expectedTypes.OrderBy(p => p.Key), file.Tensors.ToDictionary(t => t.Name, t => t.Type).OrderBy(p => p.Key));
        Assert.Equal(34L * 32 * 256 / 32, file.Tensor("token_embd.weight").ByteCount);

        foreach (var (gguf, ours) in new[] { ("token_embd.weight", "backbone.embedding.weight"), ("output.weight", "lm_head.weight"),
                     ("blk.0.ssm_in.weight", "backbone.layers.0.mixer.in_proj.weight"), ("blk.0.ssm_x.weight", "backbone.layers.0.mixer.x_proj.weight"),
                     ("blk.0.ssm_out.weight", "backbone.layers.0.mixer.out_proj.weight") })
        {
            float[] x = Values(model, ours), y = file.ReadFloats(gguf);
            Assert.Equal(x.Length, y.Length);
            double worst = 0;
            for (int i = 0; i < x.Length; i++)
            {
                double bound = GgufFormatTests.Q8_0Bound(x.AsSpan(i / 32 * 32, 32));
                Assert.True(Math.Abs(x[i] - y[i]) <= bound, $"{gguf}[{i}]: {x[i]} → {y[i]}, bound {bound}");
                worst = Math.Max(worst, Math.Abs(x[i] - y[i]));
            }
            Assert.True(worst > 0, $"{gguf}: quantisation changed nothing");
        }
    }

    [Fact]
    public void Header_and_metadata_are_the_hand_written_bytes()
    {
        using var temp = new TempDir();
        var (dir, model) = SaveTiny(temp, tied: true, nLayer: 1);
        model.Dispose();
        string path = temp.File("m.gguf");
        GgufMambaExporter.Export(dir, path, GgufFileType.AllF32);
        byte[] file = File.ReadAllBytes(path);

        static byte[] A(string s) => Encoding.ASCII.GetBytes(s);
        byte[] expected =
        [
            .. A("GGUF"), 3, 0, 0, 0,                                                   // magic, version 3
            12, 0, 0, 0, 0, 0, 0, 0,                                                    // tensors: token_embd, 10 of the layer, output_norm (tied: no output)
            18, 0, 0, 0, 0, 0, 0, 0,                                                    // metadata entries
            20, 0, 0, 0, 0, 0, 0, 0, .. A("general.architecture"), 8, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, .. A("mamba"),
            12, 0, 0, 0, 0, 0, 0, 0, .. A("general.type"), 8, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, .. A("model"),
            12, 0, 0, 0, 0, 0, 0, 0, .. A("general.name"), 8, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, .. A("MambaByte"),
            20, 0, 0, 0, 0, 0, 0, 0, .. A("mamba.context_length"), 4, 0, 0, 0, 0x00, 0x00, 0x10, 0x00,      // u32 2^20
            22, 0, 0, 0, 0, 0, 0, 0, .. A("mamba.embedding_length"), 4, 0, 0, 0, 16, 0, 0, 0,
            25, 0, 0, 0, 0, 0, 0, 0, .. A("mamba.feed_forward_length"), 4, 0, 0, 0, 0, 0, 0, 0,
            26, 0, 0, 0, 0, 0, 0, 0, .. A("mamba.attention.head_count"), 4, 0, 0, 0, 0, 0, 0, 0,
            17, 0, 0, 0, 0, 0, 0, 0, .. A("mamba.block_count"), 4, 0, 0, 0, 1, 0, 0, 0,
            21, 0, 0, 0, 0, 0, 0, 0, .. A("mamba.ssm.conv_kernel"), 4, 0, 0, 0, 4, 0, 0, 0,
            20, 0, 0, 0, 0, 0, 0, 0, .. A("mamba.ssm.inner_size"), 4, 0, 0, 0, 32, 0, 0, 0,
            20, 0, 0, 0, 0, 0, 0, 0, .. A("mamba.ssm.state_size"), 4, 0, 0, 0, 4, 0, 0, 0,
            24, 0, 0, 0, 0, 0, 0, 0, .. A("mamba.ssm.time_step_rank"), 4, 0, 0, 0, 1, 0, 0, 0,
            38, 0, 0, 0, 0, 0, 0, 0, .. A("mamba.attention.layer_norm_rms_epsilon"), 6, 0, 0, 0, 0xAC, 0xC5, 0x27, 0x37,  // f32 1e-5
            20, 0, 0, 0, 0, 0, 0, 0, .. A("mamba.ssm.dt_b_c_rms"), 7, 0, 0, 0, 0,                          // bool false
            17, 0, 0, 0, 0, 0, 0, 0, .. A("general.file_type"), 4, 0, 0, 0, 0, 0, 0, 0,                    // ALL_F32
            28, 0, 0, 0, 0, 0, 0, 0, .. A("general.quantization_version"), 4, 0, 0, 0, 2, 0, 0, 0,
            20, 0, 0, 0, 0, 0, 0, 0, .. A("tokenizer.ggml.model"), 8, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, .. A("rwkv"),
            21, 0, 0, 0, 0, 0, 0, 0, .. A("tokenizer.ggml.tokens"), 9, 0, 0, 0, 8, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,  // string[256]
            4, 0, 0, 0, 0, 0, 0, 0, .. A("\\x00"), 4, 0, 0, 0, 0, 0, 0, 0, .. A("\\x01"),
        ];
        Assert.Equal(expected, file[..expected.Length]);

        // The other 254 tokens follow the same pattern; then the first tensor info.
        int at = expected.Length;
        for (int b = 2; b < 256; b++)
        {
            Assert.Equal([4, 0, 0, 0, 0, 0, 0, 0, .. A($"\\x{b:x2}")], file[at..(at + 12)]);
            at += 12;
        }
        byte[] firstInfo =
        [
            17, 0, 0, 0, 0, 0, 0, 0, .. A("token_embd.weight"), 2, 0, 0, 0,            // name, 2 dims
            16, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0,                           // ne = {16, 256}
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,                                        // F32, offset 0
        ];
        Assert.Equal(firstInfo, file[at..(at + firstInfo.Length)]);

        // Data starts at the next multiple of 32 after the infos and the file ends on a multiple of 32.
        GgufFile read = GgufReader.Read(path);
        Assert.Equal(0, read.DataOffset % 32);
        Assert.Equal(0, file.Length % 32);
        Assert.Equal(256 * 16 * 4, read.Tensors[1].Offset);                          // token_embd is 16 KiB, already aligned
    }

    [Fact]
    public void A_llama_cpp_style_forward_over_the_gguf_gives_the_models_logits()
    {
        using var temp = new TempDir();
        foreach (bool tied in new[] { false, true })
        {
            var (dir, model) = SaveTiny(temp, tied: tied);
            using var _ = model;
            string path = temp.File($"m-{tied}.gguf");
            GgufMambaExporter.Export(dir, path, GgufFileType.AllF32);
            var reference = new LlamaCppStyleMamba(GgufReader.Read(path));

            byte[] text = Encoding.UTF8.GetBytes("In the beginning, ünïcödé\n");
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            float[] logits = model.forward(tensor(text.Select(b => (long)b).ToArray()).unsqueeze(0)).contiguous().data<float>().ToArray();   // (1, l, 256)
            double worst = 0;
            for (int t = 0; t < text.Length; t++)
            {
                double[] expected = reference.Step(text[t]);
                for (int v = 0; v < 256; v++) worst = Math.Max(worst, Math.Abs(expected[v] - logits[t * 256 + v]));
            }
            Assert.True(worst < 2e-4, $"tied={tied}: largest logit difference {worst}");
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Settings_llama_cpp_cannot_run_are_refused_naming_the_setting()
    {
        var expand3 = new MambaConfig { DModel = 16, NLayer = 1, Expand = 3 };
        Assert.Contains("'ssm_cfg.expand' is 3", Assert.Throws<InvalidDataException>(() => GgufMambaExporter.CheckLlamaCppRuns(expand3, "c.json")).Message);
        var layerNorm = new MambaConfig { DModel = 16, NLayer = 1, RmsNorm = false };
        Assert.Contains("'rms_norm' is false", Assert.Throws<InvalidDataException>(() => GgufMambaExporter.CheckLlamaCppRuns(layerNorm, "c.json")).Message);
        var bias = new MambaConfig { DModel = 16, NLayer = 1, Bias = true };
        Assert.Contains("'ssm_cfg.bias' is true", Assert.Throws<InvalidDataException>(() => GgufMambaExporter.CheckLlamaCppRuns(bias, "c.json")).Message);
    }
}
