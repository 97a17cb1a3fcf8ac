using System.Text.Json.Nodes;
using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Transformer;

namespace MambaByte.Tests.Baselines;

public sealed class ByteTransformerTests
{
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(18)]
    [InlineData(23)]
    public void Transformer_logits_before_a_perturbed_byte_do_not_change(int t)
    {
        using var model = BaselineFixtures.TinyTransformer();
        using var scope = NewDisposeScope();
        var (before, at) = BaselineFixtures.PerturbationEffect(model, BaselineFixtures.RandomBytes(2, 24, seed: t), t);
        Assert.Equal(0.0, before);
        Assert.True(at > 1e-6, $"logits at the perturbed byte {t} did not change ({at})");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Transformer_cached_steps_equal_the_full_forward(bool tied)
    {
        using var model = BaselineFixtures.TinyTransformer(tied);
        using var scope = NewDisposeScope();
        Tensor bytes = BaselineFixtures.RandomBytes(2, 45, seed: 1);           // 45 steps: the cache grows from 16 to 64
        Tensor full = model.forward(bytes);
        Tensor stepped = BaselineFixtures.StepThrough(model, bytes);
        Assert.True(BaselineFixtures.MaxAbsDifference(full, stepped) < 1e-9);
    }

    [Fact]
    public void Transformer_prefill_in_chunks_then_steps_equals_the_full_forward()
    {
        using var model = BaselineFixtures.TinyTransformer();
        using var scope = NewDisposeScope();
        Tensor bytes = BaselineFixtures.RandomBytes(3, 30, seed: 2);
        Tensor full = model.forward(bytes);
        using IInferenceState state = model.NewState(3);
        Tensor first = model.Prefill(bytes.narrow(1, 0, 11), state);          // empty cache: causal
        Tensor second = model.Prefill(bytes.narrow(1, 11, 9), state);         // continuing chunk: explicit mask
        Assert.Equal(20, state.Position);
        Tensor rest = BaselineFixtures.StepThrough(model, bytes, state, from: 20);
        Assert.Equal(30, state.Position);
        Assert.True(BaselineFixtures.MaxAbsDifference(full, cat([first, second, rest], 1)) < 1e-9);
    }

    [Fact]
    public void Transformer_runs_long_inputs_and_stays_causal_at_the_far_end()
    {
        // Rotary positions have no table that ends: 300 bytes (10× the other tests) run and stay causal at the far end.
        using var model = BaselineFixtures.TinyTransformer();
        using var scope = NewDisposeScope();
        Tensor bytes = BaselineFixtures.RandomBytes(1, 300, seed: 3);
        var (before, at) = BaselineFixtures.PerturbationEffect(model, bytes, 290);
        Assert.Equal(0.0, before);
        Assert.True(at > 1e-6);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Transformer_parameter_count_formula_equals_the_built_model(bool tied)
    {
        using var model = BaselineFixtures.TinyTransformer(tied);
        Assert.Equal(model.Config.ParameterCount(), model.ParameterCount);
        long d = 16, h = 48;                                                     // 8·16/3 = 42.7 → 48
        long expected = 256 * d + 2 * (4 * d * d + 3 * d * h + 2 * d) + d + (tied ? 0 : 256 * d);
        Assert.Equal(expected, model.ParameterCount);
    }

    [Fact]
    public void Transformer_size_knob_grows_parameters_strictly_and_presets_match_their_names()
    {
        long previous = 0;
        for (int size = 1; size <= 24; size++)
        {
            long count = TransformerConfig.FromSize(size).Validate().ParameterCount();
            Assert.True(count > previous, $"size {size}: {count} <= {previous}");
            previous = count;
        }
        Assert.InRange(TransformerConfig.Transformer320M.ParameterCount(), 300_000_000, 340_000_000);
        // Preset names are trimmed and case-insensitive; each preset has the README's size. Tiny by hand: d 32, 2 layers,
        // SwiGLU hidden ⌈8·32/3⌉ to a multiple of 8 = 88, tied head: 256·32 + 2·(4·32² + 3·32·88 + 2·32) + 32 = 33,440.
        TransformerConfig tiny = TransformerConfig.Preset(" TINY ");
        Assert.Equal(TransformerConfig.Presets["tiny"], tiny);
        Assert.Equal((32, 2, 33_440L), (tiny.DModel, tiny.NLayer, tiny.ParameterCount()));
        Assert.Equal((128, 4, 4), (TransformerConfig.Preset("Small").DModel, TransformerConfig.Preset("Small").NLayer, TransformerConfig.Preset("Small").NHead));
        Assert.NotEqual(tiny, TransformerConfig.Preset("small"));
        Assert.Contains("unknown Transformer preset", Assert.Throws<ArgumentException>(() => TransformerConfig.Preset("huge")).Message);
    }

    [Fact]
    public void Transformer_config_json_round_trips_and_rejects_bad_files_by_name()
    {
        var config = new TransformerConfig { DModel = 48, NLayer = 3, NHead = 6, TieEmbeddings = false, Dropout = 0.1, Seed = 9 };
        JsonObject json = config.ConfigJson();
        Assert.Equal("transformer", (string)json["architecture"]!);
        Assert.Equal(config with { DMlp = 128, Seed = 1337 }, TransformerConfig.FromConfigJson(JsonNode.Parse(json.ToJsonString())!.AsObject()));

        json["n_head"] = 5;
        Assert.Equal("run/config.json: 'n_head' must be positive and divide d_model 48, got 5",
            Assert.Throws<InvalidDataException>(() => TransformerConfig.FromConfigJson(json, "run/config.json")).Message);
        var wrong = config.ConfigJson();
        wrong["architecture"] = "megabyte";
        Assert.Contains("expected \"transformer\"", Assert.Throws<InvalidDataException>(() => TransformerConfig.FromConfigJson(wrong, "c.json")).Message);
        var unknown = config.ConfigJson();
        unknown["n_embd"] = 3;
        Assert.StartsWith("c.json: unknown key 'n_embd'", Assert.Throws<InvalidDataException>(() => TransformerConfig.FromConfigJson(unknown, "c.json")).Message);
    }

    [Fact]
    public void Transformer_same_seed_builds_the_same_weights_with_nanogpt_scales()
    {
        using var a = BaselineFixtures.TinyTransformer(seed: 4);
        using var b = BaselineFixtures.TinyTransformer(seed: 4);
        using var c = BaselineFixtures.TinyTransformer(seed: 5);
        var pa = a.named_parameters().ToList();
        var pb = b.named_parameters().ToList();
        for (int i = 0; i < pa.Count; i++) Assert.True(pa[i].parameter.allclose(pb[i].parameter, rtol: 0, atol: 0), pa[i].name);
        Assert.False(pa[0].parameter.allclose(c.named_parameters().First().parameter, rtol: 0, atol: 0));
        // Residual projections use 0.02/√(2·n_layer) = 0.01 with 2 layers; the others 0.02.
        double residualStd = pa.Single(p => p.name == "backbone.layers.0.attn.out_proj.weight").parameter.std().item<double>();
        double qkvStd = pa.Single(p => p.name == "backbone.layers.0.attn.qkv_proj.weight").parameter.std().item<double>();
        Assert.InRange(residualStd, 0.008, 0.012);
        Assert.InRange(qkvStd, 0.017, 0.023);
    }
}
