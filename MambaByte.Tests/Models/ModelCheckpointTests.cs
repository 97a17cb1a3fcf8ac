using System.Buffers.Binary;
using System.Text;
using System.Text.Json.Nodes;
using MambaByte.Core.Checkpoints;
using MambaByte.Core.Models;
using MambaByte.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Tests.Models;

public sealed class ModelCheckpointTests
{
    static readonly int[] SampleBytes = Encoding.UTF8.GetBytes("Mamba reads bytes: ünïcode too.").Select(b => (int)b).ToArray();

    static Tensor LogitsOf(ByteLanguageModel model, IReadOnlyList<int> bytes)
    {
        using var noGrad = no_grad();
        return model.forward(tensor(bytes.Select(b => (long)b).ToArray()).unsqueeze(0)).squeeze(0);   // (l, 256)
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Official_layout_checkpoint_loads_and_gives_the_scalar_reference_logits(bool tied)
    {
        SingleThreadedTorch.Ensure();
        using var dir = new TempDir();
        var files = new ReferenceCheckpointFiles(seed: tied ? 1 : 2, tied);
        files.WriteDirectory(dir.Path);   // tied: no lm_head.weight in the file, as safetensors conversions drop it

        using var model = ModelCheckpoint.Load(dir.Path, CPU);
        Assert.Equal(tied, ((MambaLMHeadModel)model).Config.TieEmbeddings);
        model.to(float64);   // the F32 values are exact in float64, so the comparison can be tight
        using var scope = NewDisposeScope();
        Tensor logits = LogitsOf(model, SampleBytes);
        double[][] expected = files.ScalarLogits(SampleBytes);
        Tensor reference = tensor(expected.SelectMany(r => r).ToArray(), [expected.Length, 256], float64);
        double diff = (logits - reference).abs().max().item<double>();
        Assert.True(diff < 1e-10, $"max |model - scalar reference| = {diff}");
        Assert.True(reference.std().item<double>() > 0.01);
    }

    [Theory]
    [InlineData("F16")]
    [InlineData("BF16")]
    public void Half_precision_checkpoints_convert_to_the_model_dtype(string dtype)
    {
        SingleThreadedTorch.Ensure();
        using var dir = new TempDir();
        var files = new ReferenceCheckpointFiles(seed: 3, tied: true);
        files.WriteDirectory(dir.Path, dtype);
        using var model = ModelCheckpoint.Load(dir.Path, CPU);
        var sd = model.state_dict();
        foreach (var (name, (shape, data)) in files.Weights)
        {
            Tensor loaded = sd[name];
            Assert.Equal(ScalarType.Float32, loaded.dtype);
            Assert.Equal(shape, loaded.shape);
            float[] expected = data.Select(v => ReferenceCheckpointFiles.Stored(v, dtype)).ToArray();
            Assert.Equal(expected, loaded.data<float>().ToArray());
        }
        Assert.Equal(sd["backbone.embedding.weight"].data<float>().ToArray(), sd["lm_head.weight"].data<float>().ToArray());
    }

    [Fact]
    public void Tied_checkpoint_that_keeps_lm_head_and_hugging_face_names_also_load()
    {
        SingleThreadedTorch.Ensure();
        var files = new ReferenceCheckpointFiles(seed: 4, tied: true);
        using var dirA = new TempDir();
        files.WriteDirectory(dirA.Path, withTiedHead: true);
        using var a = ModelCheckpoint.Load(dirA.Path, CPU);
        using var dirB = new TempDir();
        files.WriteDirectory(dirB.Path, rename: new Dictionary<string, string> { ["backbone.embedding.weight"] = "backbone.embeddings.weight" });
        using var b = ModelCheckpoint.Load(dirB.Path, CPU);
        float[] embedding = files.Weights["backbone.embedding.weight"].Data;
        Assert.Equal(embedding, a.state_dict()["lm_head.weight"].data<float>().ToArray());
        Assert.Equal(embedding, b.state_dict()["backbone.embedding.weight"].data<float>().ToArray());
    }

    [Fact]
    public void Hugging_face_transformers_directory_loads_and_gives_the_scalar_reference_logits()
    {
        SingleThreadedTorch.Ensure();
        using var dir = new TempDir();
        var files = new ReferenceCheckpointFiles(seed: 6, tied: true);
        files.WriteDirectory(dir.Path, rename: new Dictionary<string, string> { ["backbone.embedding.weight"] = "backbone.embeddings.weight" });
        File.WriteAllText(Path.Combine(dir.Path, "config.json"), $$"""
            {"architectures": ["MambaForCausalLM"], "model_type": "mamba", "hidden_size": {{ReferenceCheckpointFiles.DModel}},
             "num_hidden_layers": {{ReferenceCheckpointFiles.NLayer}}, "vocab_size": 256, "state_size": {{ReferenceCheckpointFiles.DState}},
             "conv_kernel": {{ReferenceCheckpointFiles.DConv}}, "expand": 2, "time_step_rank": "auto", "use_bias": false,
             "use_conv_bias": true, "hidden_act": "silu", "layer_norm_epsilon": 1e-05, "residual_in_fp32": true,
             "tie_word_embeddings": true, "bos_token_id": 0, "torch_dtype": "float32", "transformers_version": "4.44.0"}
            """);
        using var model = ModelCheckpoint.Load(dir.Path, CPU);
        model.to(float64);
        using var scope = NewDisposeScope();
        double[][] expected = files.ScalarLogits(SampleBytes);
        Tensor reference = tensor(expected.SelectMany(r => r).ToArray(), [expected.Length, 256], float64);
        Assert.True((LogitsOf(model, SampleBytes) - reference).abs().max().item<double>() < 1e-10);

        File.WriteAllText(Path.Combine(dir.Path, "config.json"), """{"model_type": "mamba2", "hidden_size": 8, "num_hidden_layers": 2}""");
        Assert.Contains("'model_type' is \"mamba2\"", Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(dir.Path, CPU)).Message);
    }

    [Fact]
    public void Save_then_load_is_bit_exact()
    {
        SingleThreadedTorch.Ensure();
        using var dir = new TempDir();
        var config = new MambaConfig { DModel = 16, NLayer = 2, DState = 4, Bias = true, TieEmbeddings = false, DtRank = 3 };
        using var original = new MambaLMHeadModel(config, seed: 21);
        ModelCheckpoint.Save(original, dir.Path);
        Assert.Equal(["config.json", "model.safetensors"], Directory.GetFiles(dir.Path).Select(Path.GetFileName).Order());

        using var loaded = ModelCheckpoint.Load(dir.Path, CPU);
        Assert.Equal(config, ((MambaLMHeadModel)loaded).Config);
        var a = original.state_dict();
        var b = loaded.state_dict();
        Assert.Equal(a.Keys.Order(), b.Keys.Order());
        foreach (var (name, t) in a)
            Assert.True(t.dtype == b[name].dtype && t.eq(b[name]).all().item<bool>(), $"{name} differs after the round trip");
        using var scope = NewDisposeScope();
        Assert.True(LogitsOf(original, SampleBytes).eq(LogitsOf(loaded, SampleBytes)).all().item<bool>());

        // A tied model's file leaves lm_head.weight out, and the tie survives loading.
        using var tiedDir = new TempDir();
        using var tied = new MambaLMHeadModel(config with { TieEmbeddings = true }, seed: 22);
        ModelCheckpoint.Save(tied, tiedDir.Path);
        Assert.DoesNotContain("lm_head.weight", Safetensors.ReadHeader(Path.Combine(tiedDir.Path, "model.safetensors")).Tensors.Keys);
        using var tiedLoaded = ModelCheckpoint.Load(tiedDir.Path, CPU);
        Assert.True(LogitsOf(tied, SampleBytes).eq(LogitsOf(tiedLoaded, SampleBytes)).all().item<bool>());
    }

    [Fact]
    public void Mismatches_are_reported_with_the_file_and_the_key()
    {
        SingleThreadedTorch.Ensure();
        var files = new ReferenceCheckpointFiles(seed: 5, tied: true);

        using var missing = new TempDir();
        files.WriteDirectory(missing.Path, skip: ["backbone.layers.1.mixer.D"]);
        var e = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(missing.Path, CPU));
        Assert.Contains("model.safetensors", e.Message);
        Assert.Contains("missing keys: backbone.layers.1.mixer.D", e.Message);

        using var unexpected = new TempDir();
        files.WriteDirectory(unexpected.Path, rename: new Dictionary<string, string> { ["backbone.norm_f.weight"] = "backbone.final_norm.weight" });
        e = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(unexpected.Path, CPU));
        Assert.Contains("unexpected keys: backbone.final_norm.weight", e.Message);
        Assert.Contains("missing keys: backbone.norm_f.weight", e.Message);

        using var shape = new TempDir();
        files.WriteDirectory(shape.Path);
        File.WriteAllText(Path.Combine(shape.Path, "config.json"), files.ConfigJson.Replace("\"d_state\": 3", "\"d_state\": 4"));
        e = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(shape.Path, CPU));
        Assert.Contains("'backbone.layers.0.mixer.A_log': shape [16, 3] in the file vs [16, 4] in the model", e.Message);

        using var badConfig = new TempDir();
        files.WriteDirectory(badConfig.Path);
        string configPath = Path.Combine(badConfig.Path, "config.json");
        File.WriteAllText(configPath, files.ConfigJson.Replace("\"d_conv\": 3", "\"d_conv\": 3, \"layer\": \"Mamba2\""));
        e = Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(badConfig.Path, CPU));
        Assert.Contains(configPath, e.Message);
        Assert.Contains("'ssm_cfg.layer' is \"Mamba2\"", e.Message);
        File.WriteAllText(configPath, files.ConfigJson.Replace("\"rms_norm\"", "\"rms_nrom\""));
        Assert.Contains("unknown key 'rms_nrom'", Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(badConfig.Path, CPU)).Message);
        File.WriteAllText(configPath, files.ConfigJson.Replace("\"rms_norm\": true", "\"attn_layer_idx\": [1], \"rms_norm\": true"));
        Assert.Contains("'attn_layer_idx' must be empty", Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(badConfig.Path, CPU)).Message);
        File.WriteAllText(configPath, files.ConfigJson.Replace("\"rms_norm\": true", "\"d_intermediate\": 64, \"rms_norm\": true"));
        Assert.Contains("'d_intermediate' must be 0", Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(badConfig.Path, CPU)).Message);
        File.WriteAllText(configPath, files.ConfigJson.Replace("{", "{\"architecture\": \"rwkv\", "));
        Assert.Contains("unknown architecture \"rwkv\"", Assert.Throws<InvalidDataException>(() => ModelCheckpoint.Load(badConfig.Path, CPU)).Message);

        using var noWeights = new TempDir();
        File.WriteAllText(Path.Combine(noWeights.Path, "config.json"), files.ConfigJson);
        Assert.Contains("model.safetensors", Assert.Throws<FileNotFoundException>(() => ModelCheckpoint.Load(noWeights.Path, CPU)).Message);
    }

    [Fact]
    public void Safetensors_writer_produces_the_documented_layout_and_reads_back_every_dtype()
    {
        SingleThreadedTorch.Ensure();
        using var dir = new TempDir();
        string path = dir.File("t.safetensors");
        using var scope = NewDisposeScope();
        var tensors = new Dictionary<string, Tensor>
        {
            ["f64"] = tensor(new[] { 1.5, -2.25, Math.PI }, float64),
            ["f32"] = tensor(new[] { 1f, 2f, 3f, 4f, 5f, 6f }, [2, 3]),
            ["f16"] = tensor(new[] { 0.5f, -1.75f }).to_type(ScalarType.Float16),
            ["bf16"] = tensor(new[] { 3.0f, -0.15625f }).to_type(ScalarType.BFloat16),
            ["i64"] = tensor(new long[] { long.MaxValue, -7 }),
        };
        Safetensors.Write(path, tensors, new Dictionary<string, string> { ["format"] = "pt" });
        Assert.Single(Directory.GetFiles(dir.Path));   // no temporary file left behind

        // Parse by hand: length, JSON header, offsets relative to the data section, little-endian data.
        byte[] file = File.ReadAllBytes(path);
        long headerLength = (long)BinaryPrimitives.ReadUInt64LittleEndian(file);
        var header = JsonNode.Parse(Encoding.UTF8.GetString(file, 8, (int)headerLength))!.AsObject();
        Assert.Equal("pt", header["__metadata__"]!["format"]!.GetValue<string>());
        Assert.Equal("F32", header["f32"]!["dtype"]!.GetValue<string>());
        Assert.Equal([2L, 3], header["f32"]!["shape"]!.AsArray().Select(n => n!.GetValue<long>()));
        long begin = header["f64"]!["data_offsets"]![0]!.GetValue<long>();
        Assert.Equal(Math.PI, BinaryPrimitives.ReadDoubleLittleEndian(file.AsSpan((int)(8 + headerLength + begin + 16))));
        long bf = header["bf16"]!["data_offsets"]![0]!.GetValue<long>();
        Assert.Equal(0x4040, BinaryPrimitives.ReadUInt16LittleEndian(file.AsSpan((int)(8 + headerLength + bf))));   // 3.0 in bf16

        var read = Safetensors.Read(path);
        Assert.Equal(tensors.Keys.Order(), read.Keys.Order());
        foreach (var (name, t) in tensors)
        {
            Assert.Equal(t.dtype, read[name].dtype);
            Assert.True(t.eq(read[name]).all().item<bool>(), name);
        }
        foreach (Tensor t in read.Values) t.Dispose();

        File.WriteAllBytes(path, file[..^3]);
        Assert.Contains("truncated", Assert.Throws<InvalidDataException>(() => Safetensors.Read(path)).Message);
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Contains(path, Assert.Throws<InvalidDataException>(() => Safetensors.Read(path)).Message);
    }
}
