using System.Text.Json.Nodes;
using MambaByte.Core.Models;
using MambaByte.Core.Architectures;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Tests.Models;

public sealed class MambaConfigTests
{
    [Fact]
    public void Official_config_json_reads_with_reference_defaults()
    {
        // state-spaces/mamba-130m's config.json form, with the byte vocabulary.
        var json = JsonNode.Parse("""
            {"d_model": 768, "n_layer": 24, "vocab_size": 256, "ssm_cfg": {}, "rms_norm": true,
             "residual_in_fp32": true, "fused_add_norm": true, "pad_vocab_size_multiple": 8}
            """)!.AsObject();
        MambaConfig config = MambaConfig.FromJson(json);
        Assert.Equal(768, config.DModel);
        Assert.Equal(24, config.NLayer);
        Assert.Equal(1536, config.DInner);            // expand 2
        Assert.Equal(48, config.ResolvedDtRank);      // ceil(768 / 16)
        Assert.Equal(16, config.DState);
        Assert.Equal(4, config.DConv);
        Assert.Equal(0.001, config.DtMin);
        Assert.Equal(0.1, config.DtMax);
        Assert.Equal(1e-4, config.DtInitFloor);
        Assert.True(config.ConvBias);
        Assert.False(config.Bias);
        Assert.True(config.TieEmbeddings);
        Assert.Equal(256, config.PaddedVocabSize);
        Assert.Equal(2, (new MambaConfig { DModel = 17, NLayer = 1 }).ResolvedDtRank);   // ceil, not floor
    }

    [Fact]
    public void Config_json_round_trips_in_the_reference_form()
    {
        var config = new MambaConfig
        {
            DModel = 48, NLayer = 3, DState = 8, DConv = 2, Expand = 3, DtRank = 5, DtMin = 0.002, DtMax = 0.2,
            DtInit = "constant", DtScale = 0.5, DtInitFloor = 2e-4, ConvBias = false, Bias = true, RmsNorm = false,
            ResidualInFp32 = false, FusedAddNorm = false, PadVocabSizeMultiple = 16, TieEmbeddings = false, NormEpsilon = 1e-6,
        };
        JsonObject json = config.ToJson();
        Assert.Equal(0, json["d_intermediate"]!.GetValue<int>());
        Assert.Equal(5, json["ssm_cfg"]!["dt_rank"]!.GetValue<int>());
        Assert.Equal("Mamba1", json["ssm_cfg"]!["layer"]!.GetValue<string>());
        Assert.Equal(config, MambaConfig.FromJson(JsonNode.Parse(json.ToJsonString())!.AsObject()));

        JsonObject auto = MambaConfig.Tiny.ToJson();
        Assert.Equal("auto", auto["ssm_cfg"]!["dt_rank"]!.GetValue<string>());
        Assert.Null(auto["norm_epsilon"]);   // not a reference key: written only when it is not the default
        Assert.Equal(MambaConfig.Tiny, MambaConfig.FromJson(auto));
    }

    [Fact]
    public void Bad_values_name_the_source_and_the_key()
    {
        JsonObject Parse(string s) => JsonNode.Parse(s)!.AsObject();
        Assert.Equal("cfg.json: missing required key 'n_layer'",
            Assert.Throws<InvalidDataException>(() => MambaConfig.FromJson(Parse("""{"d_model": 8}"""), "cfg.json")).Message);
        Assert.Equal("cfg.json: 'd_model' must be an integer, got \"8\"",
            Assert.Throws<InvalidDataException>(() => MambaConfig.FromJson(Parse("""{"d_model": "8", "n_layer": 1}"""), "cfg.json")).Message);
        Assert.Equal("cfg.json: unknown key 'ssm_cfg.ngroups'",
            Assert.Throws<InvalidDataException>(() => MambaConfig.FromJson(Parse("""{"d_model": 8, "n_layer": 1, "ssm_cfg": {"ngroups": 1}}"""), "cfg.json")).Message);
        Assert.Contains("'vocab_size' must be 256",
            Assert.Throws<InvalidDataException>(() => MambaConfig.FromJson(Parse("""{"d_model": 8, "n_layer": 1, "vocab_size": 50277}"""), "cfg.json")).Message);
    }

    [Fact]
    public void Factory_dispatches_on_architecture()
    {
        MambaByte.Core.Native.TorchRuntime.EnsureLoaded();
        using var model = ModelFactory.FromConfig(MambaConfig.Tiny.ToJson());
        Assert.Equal("mamba", model.Architecture);
        var withKey = MambaConfig.Tiny.ToJson();
        withKey["architecture"] = "mamba";
        using var again = ModelFactory.FromConfig(withKey);
        Assert.Equal(model.ParameterCount, again.ParameterCount);
        withKey["architecture"] = "rwkv";
        Assert.Contains("unknown architecture \"rwkv\"", Assert.Throws<InvalidDataException>(() => ModelFactory.FromConfig(withKey, "x/config.json")).Message);
    }
}
