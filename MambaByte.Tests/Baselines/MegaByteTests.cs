using System.Text.Json.Nodes;
using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.MegaByte;

namespace MambaByte.Tests.Baselines;

public sealed class MegaByteTests
{
    // Patch size 4, 14 bytes: t = 0 (first byte), 1 and 2 (inside patch 0), 3 (last byte of a patch), 4 (first
    // byte of patch 1, at the boundary), 6, 7, 8 (the next boundary), 13 (the last byte, in the partial patch 3).
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(6)]
    [InlineData(7)]
    [InlineData(8)]
    [InlineData(13)]
    public void MegaByte_logits_before_a_perturbed_byte_do_not_change_inside_and_across_patches(int t)
    {
        using var model = BaselineFixtures.TinyMegaByte(patchSize: 4);
        using var scope = NewDisposeScope();
        var (before, at) = BaselineFixtures.PerturbationEffect(model, BaselineFixtures.RandomBytes(2, 14, seed: 20 + t), t);
        Assert.Equal(0.0, before);
        Assert.True(at > 1e-6, $"logits at the perturbed byte {t} did not change ({at})");
    }

    [Theory]
    [InlineData(4, 27)]     // more than six patches, ending inside a patch
    [InlineData(4, 24)]     // ending exactly at a patch boundary
    [InlineData(1, 9)]      // patches of one byte: a global step every byte
    [InlineData(3, 11)]
    public void MegaByte_cached_steps_equal_the_full_forward(int patchSize, int length)
    {
        using var model = BaselineFixtures.TinyMegaByte(patchSize);
        using var scope = NewDisposeScope();
        Tensor bytes = BaselineFixtures.RandomBytes(2, length, seed: length);
        Tensor full = model.forward(bytes);
        Tensor stepped = BaselineFixtures.StepThrough(model, bytes);
        Assert.True(BaselineFixtures.MaxAbsDifference(full, stepped) < 1e-9);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(5)]
    [InlineData(11)]
    public void MegaByte_prefill_then_steps_equals_the_full_forward(int prefillLength)
    {
        using var model = BaselineFixtures.TinyMegaByte(patchSize: 4);
        using var scope = NewDisposeScope();
        Tensor bytes = BaselineFixtures.RandomBytes(2, 19, seed: 40 + prefillLength);
        Tensor full = model.forward(bytes);
        using IInferenceState state = model.NewState(2);
        Tensor prefilled = model.Prefill(bytes.narrow(1, 0, prefillLength), state);
        Assert.Equal(prefillLength, state.Position);
        Tensor more = model.Prefill(bytes.narrow(1, prefillLength, 2), state);     // a second prefill continues step by step
        Tensor rest = BaselineFixtures.StepThrough(model, bytes, state, from: prefillLength + 2);
        Assert.Equal(19, state.Position);
        Assert.True(BaselineFixtures.MaxAbsDifference(full, cat([prefilled, more, rest], 1)) < 1e-9);
    }

    [Fact]
    public void MegaByte_pads_only_after_the_input_so_logits_do_not_depend_on_the_padding_length()
    {
        // The logits of a prefix equal the first logits of the longer sequence, whatever padding each needed.
        using var model = BaselineFixtures.TinyMegaByte(patchSize: 4);
        using var scope = NewDisposeScope();
        Tensor bytes = BaselineFixtures.RandomBytes(1, 16, seed: 8);
        Tensor full = model.forward(bytes);
        for (int length = 1; length < 16; length++)
            Assert.True(BaselineFixtures.MaxAbsDifference(full.narrow(1, 0, length), model.forward(bytes.narrow(1, 0, length))) < 1e-12);
    }

    [Fact]
    public void MegaByte_rejects_inputs_past_its_learned_patch_positions()
    {
        using var model = BaselineFixtures.TinyMegaByte(patchSize: 4);                 // max_context 256
        using var scope = NewDisposeScope();
        Assert.Equal(256, model.forward(BaselineFixtures.RandomBytes(1, 256, seed: 1)).shape[1]);
        Assert.Contains("exceeds max_context 256", Assert.Throws<ArgumentException>(() => model.forward(BaselineFixtures.RandomBytes(1, 260, seed: 1))).Message);
    }

    [Fact]
    public void MegaByte_parameter_count_formula_equals_the_built_model()
    {
        using var model = BaselineFixtures.TinyMegaByte(patchSize: 4);
        Assert.Equal(model.Config.ParameterCount(), model.ParameterCount);
        // By hand: P = 4, D = 32 (slot 8), H_g = 88, d = 16, H_l = 48, 65 patch positions.
        long global = 256 * 8 + 32 + 65 * 32 + 2 * (4 * 32 * 32 + 3 * 32 * 88 + 2 * 32) + 32;
        long local = 8 * 16 + 256 * 16 + 16 + 2 * (4 * 16 * 16 + 3 * 16 * 48 + 2 * 16) + 16 + 256 * 16;
        Assert.Equal((global, local), model.Config.ParameterCounts());
    }

    [Fact]
    public void MegaByte_size_knob_grows_parameters_and_flops_strictly_and_presets_match_their_names()
    {
        long previous = 0;
        double previousFlops = 0;
        for (int size = 1; size <= 24; size++)
        {
            MegaByteConfig config = MegaByteConfig.FromSize(size).Validate();
            Assert.True(config.ParameterCount() > previous, $"size {size}");
            Assert.True(config.TrainingFlopsPerByte(1024) > previousFlops, $"size {size}");
            (previous, previousFlops) = (config.ParameterCount(), config.TrainingFlopsPerByte(1024));
        }
        MegaByteConfig.FromSize(3, patchSize: 3).Validate();                             // odd patch sizes still give RoPE-able heads
        var (g, l) = MegaByteConfig.MegaByte193M177M.ParameterCounts();
        Assert.InRange(g, 180_000_000, 206_000_000);
        Assert.InRange(l, 165_000_000, 190_000_000);
        (g, l) = MegaByteConfig.MegaByte1300M350M.ParameterCounts();
        Assert.InRange(g, 1_250_000_000, 1_400_000_000);
        Assert.InRange(l, 330_000_000, 370_000_000);
    }

    [Fact]
    public void MegaByte_config_json_round_trips_and_rejects_bad_files_by_name()
    {
        MegaByteConfig config = MegaByteConfig.Small with { PatchSize = 6, DGlobal = 192, MaxContext = 600, Seed = 3 };
        JsonObject json = config.ConfigJson();
        Assert.Equal("megabyte", (string)json["architecture"]!);
        MegaByteConfig back = MegaByteConfig.FromConfigJson(JsonNode.Parse(json.ToJsonString())!.AsObject());
        Assert.Equal(config with { DGlobalMlp = config.ResolvedDGlobalMlp, DLocalMlp = config.ResolvedDLocalMlp, Seed = 1337 }, back);

        json["d_global"] = 100;
        Assert.Equal("m/config.json: 'd_global' must be a positive multiple of patch_size 6, got 100",
            Assert.Throws<InvalidDataException>(() => MegaByteConfig.FromConfigJson(json, "m/config.json")).Message);
        json.Remove("d_global");
        Assert.Equal("m/config.json: missing required key 'd_global'",
            Assert.Throws<InvalidDataException>(() => MegaByteConfig.FromConfigJson(json, "m/config.json")).Message);
    }
}
