using System.Text;
using MambaByte.Core.Architectures.SpaceByte;
using MambaByte.Core.Models;
using MambaByte.Core.Modules.Attention;
using MambaByte.Core.Native;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Tests.Baselines;

public sealed class SpaceByteTests
{
    [Fact]
    public void Patch_starts_follow_the_papers_rule_on_a_hand_worked_example()
    {
        // H i , ␠ w [C3 B6 = ö] r l d ␠ 4 2 !
        // 0 1 2 3 4  5  6       7 8 9 10 11 12 13
        // spacelike: ',' ' ' C3 (a lead byte) ' ' '!'; not: letters, digits, B6 (a continuation byte).
        // Starts: 0 (the stream start), 2 (',' after 'i'), 5 (C3 after 'w'), 10 (' ' after 'd'), 13 ('!' after '2');
        // not 3 (' ' after the spacelike ',').
        byte[] text = Encoding.UTF8.GetBytes("Hi, wörld 42!");
        Assert.Equal(14, text.Length);
        Assert.Equal([0, 2, 5, 10, 13], SpacelikeBytes.GlobalPositions(text));
        // Continuing a stream: the first byte starts a patch only if spacelike after a non-spacelike byte.
        Assert.Equal([], SpacelikeBytes.GlobalPositions(" a"u8, previousSpacelike: true));
        Assert.Equal([0], SpacelikeBytes.GlobalPositions(" a"u8, previousSpacelike: false));
        Assert.Equal([1], SpacelikeBytes.GlobalPositions("a "u8, previousSpacelike: true));

        foreach (byte b in "azAZ09"u8.ToArray().Concat(new byte[] { 0x80, 0xA9, 0xBF }))
            Assert.False(SpacelikeBytes.IsSpacelike(b), $"byte 0x{b:X2}");
        foreach (byte b in " \n\t.,_-/@[`{~"u8.ToArray().Concat(new byte[] { 0x00, 0x7F, 0xC0, 0xC3, 0xE2, 0xFF }))
            Assert.True(SpacelikeBytes.IsSpacelike(b), $"byte 0x{b:X2}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(6)]
    [InlineData(12)]
    [InlineData(29)]
    public void Logits_before_a_perturbed_byte_do_not_change(int t)
    {
        // A global context of 3 slots: these rows have more patch starts, so truncation is exercised too.
        using var model = SpaceByteFixtures.Tiny(globalContextSize: 3);
        using var scope = NewDisposeScope();
        Tensor bytes = SpaceByteFixtures.TextBytes(2, 30, seed: 30 + t);
        Assert.True(SpaceByteFixtures.GlobalPositions(bytes, 0).Length > 3);
        var (before, at) = BaselineFixtures.PerturbationEffect(model, bytes, t);
        Assert.Equal(0.0, before);
        Assert.True(at > 1e-6, $"logits at the perturbed byte {t} did not change ({at})");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(23)]     // several times the 5-byte local window: the local caches are trimmed
    public void Cached_steps_equal_the_full_forward(int length)
    {
        using var model = SpaceByteFixtures.Tiny(globalContextSize: 64);   // no truncation within these windows
        using var scope = NewDisposeScope();
        Tensor bytes = SpaceByteFixtures.TextBytes(2, length, seed: length);
        Tensor full = model.forward(bytes);
        using var state = (SpaceByteInferenceState)model.NewState(2);
        Tensor stepped = BaselineFixtures.StepThrough(model, bytes, state);
        Assert.True(BaselineFixtures.MaxAbsDifference(full, stepped) < 1e-9);
        for (int row = 0; row < 2; row++)   // one global cache entry per patch start, separately for each sequence
            Assert.Equal(SpaceByteFixtures.GlobalPositions(bytes, row).Length, state.GlobalLength(row));
        Assert.True(state.LocalCaches.All(cache => cache.Length < 2 * 5), "local caches must stay within twice the window");
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(9)]      // longer than the window: the prefill's windowed mask, then a trim on the next bytes
    [InlineData(16)]
    public void Prefill_then_steps_equals_the_full_forward(int prefillLength)
    {
        using var model = SpaceByteFixtures.Tiny(globalContextSize: 64);
        using var scope = NewDisposeScope();
        Tensor bytes = SpaceByteFixtures.TextBytes(2, 24, seed: 40 + prefillLength);
        Tensor full = model.forward(bytes);
        using IInferenceState state = model.NewState(2);
        Tensor prefilled = model.Prefill(bytes.narrow(1, 0, prefillLength), state);
        Tensor more = model.Prefill(bytes.narrow(1, prefillLength, 3), state);      // a second prefill continues the caches
        Tensor rest = BaselineFixtures.StepThrough(model, bytes, state, from: prefillLength + 3);
        Assert.Equal(24, state.Position);
        Assert.True(BaselineFixtures.MaxAbsDifference(full, cat([prefilled, more, rest], 1)) < 1e-9);
    }

    [Fact]
    public void Fixed_global_context_pads_without_effect_and_truncation_only_changes_bytes_from_the_first_dropped_patch()
    {
        using var scope = NewDisposeScope();
        Tensor bytes = SpaceByteFixtures.TextBytes(1, 40, seed: 3);
        int[] starts = SpaceByteFixtures.GlobalPositions(bytes, 0);
        Assert.True(starts.Length > 4, $"the example needs more than 4 patch starts, has {starts.Length}");
        using var exact = SpaceByteFixtures.Tiny(globalContextSize: starts.Length);
        using var padded = SpaceByteFixtures.Tiny(globalContextSize: 40);
        using var truncated = SpaceByteFixtures.Tiny(globalContextSize: 3);
        Tensor reference = exact.forward(bytes);
        // Equal up to rounding: the global attention runs over sequences of different lengths.
        Assert.True(BaselineFixtures.MaxAbsDifference(reference, padded.forward(bytes)) < 1e-12);
        Tensor cut = truncated.forward(bytes);
        int dropped = starts[3];                                                           // the 4th patch start gets no global step
        Assert.True(BaselineFixtures.MaxAbsDifference(reference.narrow(1, 0, dropped), cut.narrow(1, 0, dropped)) < 1e-12);
        Assert.True(BaselineFixtures.MaxAbsDifference(reference.select(1, dropped), cut.select(1, dropped)) > 1e-6);
    }

    [Fact]
    public void Windowed_attention_at_each_position_equals_full_attention_over_its_last_W_inputs()
    {
        // Rotary positions are relative, so position i attending to i−W+1 … i equals an unwindowed attention run on
        // just those W inputs (its last output). The cached path must give the same and keep the cache bounded.
        TorchRuntime.EnsureLoaded();
        using var scope = NewDisposeScope();
        const int window = 3, length = 11;
        using var windowed = new CausalSelfAttention(8, 2, 10000.0, 0.0, window: window);
        using var full = new CausalSelfAttention(8, 2, 10000.0, 0.0);
        windowed.to(float64);
        full.to(float64);
        full.load_state_dict(windowed.state_dict());
        Tensor x = randn([2, length, 8], dtype: float64, generator: new Generator(5));
        Tensor y = windowed.Forward(x, null);                                                     // (2, l, 8)
        for (int i = 0; i < length; i++)
        {
            int from = Math.Max(0, i - window + 1);
            Tensor expected = full.Forward(x.narrow(1, from, i - from + 1), null).select(1, i - from);
            Assert.True(BaselineFixtures.MaxAbsDifference(expected, y.select(1, i)) < 1e-12, $"position {i}");
        }
        Assert.True(BaselineFixtures.MaxAbsDifference(full.Forward(x, null), y) > 1e-3);          // the window does cut something

        using var cache = new KvCache();
        Tensor prefix = windowed.Forward(x.narrow(1, 0, 4), cache);
        var steps = new List<Tensor> { prefix };
        for (int i = 4; i < length; i++)
        {
            steps.Add(windowed.Forward(x.narrow(1, i, 1), cache));
            Assert.True(cache.Length < 2 * window);
        }
        Assert.True(cache.Start > 0);
        Assert.True(BaselineFixtures.MaxAbsDifference(y, cat(steps, 1)) < 1e-12);
    }

    [Fact]
    public void Config_json_round_trips_and_bad_values_name_the_file_and_key()
    {
        SpaceByteConfig config = SpaceByteFixtures.TinyConfig(globalContextSize: 7);
        SpaceByteConfig read = SpaceByteConfig.FromConfigJson(config.ConfigJson(), "s.json");
        Assert.Equal(config.ConfigJson().ToJsonString(), read.ConfigJson().ToJsonString());
        Assert.Equal(7, read.GlobalContextSize);
        Assert.Equal("spacebyte", (string?)config.ConfigJson()["architecture"]);
        Assert.Null(SpaceByteConfig.Tiny.ConfigJson()["global_context_size"]);   // absent: ⌊l/6⌋ per window

        var bad = config.ConfigJson();
        bad["n_initial_layer"] = 5;
        Assert.Equal("s.json: 'n_initial_layer' must be between 0 and n_local_layer 3, got 5",
            Assert.Throws<InvalidDataException>(() => SpaceByteConfig.FromConfigJson(bad, "s.json")).Message);
        bad = config.ConfigJson();
        bad["d_global"] = 8;
        Assert.Equal("s.json: 'd_global' must be at least d_local 16, got 8",
            Assert.Throws<InvalidDataException>(() => SpaceByteConfig.FromConfigJson(bad, "s.json")).Message);
        bad = config.ConfigJson();
        bad["patch_size"] = 6;
        Assert.StartsWith("s.json: unknown key 'patch_size'", Assert.Throws<InvalidDataException>(() => SpaceByteConfig.FromConfigJson(bad, "s.json")).Message);
        bad = config.ConfigJson();
        bad["architecture"] = "megabyte";
        Assert.Equal("s.json: 'architecture' is \"megabyte\", expected \"spacebyte\"",
            Assert.Throws<InvalidDataException>(() => SpaceByteConfig.FromConfigJson(bad, "s.json")).Message);
        Assert.StartsWith("unknown SpaceByte preset 'huge'", Assert.Throws<ArgumentException>(() => SpaceByteConfig.Preset("huge")).Message);
    }
}
