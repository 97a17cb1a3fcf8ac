using MambaByte.Core.Architectures.SpaceByte;
using MambaByte.Core.Native;

namespace MambaByte.Tests.Baselines;

public sealed class SpaceByteCostTests
{
    // d_local 4 (SwiGLU 8), 2 local blocks, window 2; d_global 8 (SwiGLU 16), 1 global block.
    private static SpaceByteConfig HandSized(int? globalContextSize) => new()
    {
        DGlobal = 8, NGlobalLayer = 1, NGlobalHead = 2, DGlobalMlp = 16,
        DLocal = 4, NLocalLayer = 2, NLocalHead = 2, DLocalMlp = 8, LocalAttentionWindow = 2, GlobalContextSize = globalContextSize,
    };

    [Fact]
    public void Flops_per_byte_match_a_hand_count()
    {
        // Local block at one position: 2·(4·4² + 3·4·8) = 320 matmul FLOPs + 4·4·keys = 16·keys for attention.
        // Head: 2·256·4 = 2048. Global block: 2·(4·8² + 3·8·16) = 1280 + 4·8·keys = 32·keys.
        // Window of 3 bytes, 1 global slot: keys 1, 2, 2 → local 2·(3·320 + 16·5) = 2080, head 3·2048 = 6144,
        // global 1280 + 32 = 1312; forward 9536, training = 3·9536/3 = 9536 per byte.
        Assert.Equal(9536.0, HandSized(1).TrainingFlopsPerByte(3));
        // Window of 12 bytes, default ⌊12/6⌋ = 2 slots: keys 1 + 11·2 = 23 → local 2·(12·320 + 16·23) = 8416,
        // head 12·2048 = 24576, global (1280 + 32) + (1280 + 64) = 2656; forward 35648, training 3·35648/12 = 8912.
        Assert.Equal(8912.0, HandSized(null).TrainingFlopsPerByte(12));
        // Generating at position 7: local 2·(320 + 16·2) = 704, head 2048, global step of patch ⌊7/6⌋ = 1
        // (2 keys: 1280 + 64 = 1344) at one patch start per 6 bytes: 224. Total 2976.
        Assert.Equal(2976.0, HandSized(null).GenerationFlopsPerByte(7));
        // Position 0: local 2·(320 + 16) = 672, head 2048, (1280 + 32)/6.
        Assert.Equal(672.0 + 2048.0 + 1312.0 / 6, HandSized(null).GenerationFlopsPerByte(0), 9);
    }

    [Fact]
    public void Parameter_count_matches_a_hand_count_and_the_built_model()
    {
        // Embedding 256·4 = 1024; local block 4·16 + 3·4·8 + 2·4 = 168 (×2 = 336); global block 4·64 + 3·8·16 + 2·8 = 656;
        // final norm 4; head 256·4 = 1024. Total 3044.
        Assert.Equal(3044, HandSized(null).ParameterCount());
        TorchRuntime.EnsureLoaded();
        using var model = new SpaceByteModel(HandSized(null));
        Assert.Equal(3044, model.ParameterCount);
        using var tiny = new SpaceByteModel(SpaceByteConfig.Tiny);
        Assert.Equal(SpaceByteConfig.Tiny.ParameterCount(), tiny.ParameterCount);
    }

    [Fact]
    public void The_paper_preset_has_793M_global_and_184M_local_parameters()
    {
        var (global, local) = SpaceByteConfig.Preset("SpaceByte-793M+184M").ParameterCounts();
        Assert.Equal(793, Math.Round(global / 1e6));
        Assert.Equal(184, Math.Round(local / 1e6));
    }

    [Fact]
    public void Size_knob_grows_parameters_and_flops_strictly()
    {
        for (int size = 1; size < 8; size++)
        {
            SpaceByteConfig smaller = SpaceByteConfig.FromSize(size).Validate(), larger = SpaceByteConfig.FromSize(size + 1).Validate();
            Assert.True(larger.ParameterCount() > smaller.ParameterCount(), $"size {size}");
            Assert.True(larger.TrainingFlopsPerByte(512) > smaller.TrainingFlopsPerByte(512), $"size {size}");
            Assert.True(larger.GenerationFlopsPerByte(512) > smaller.GenerationFlopsPerByte(512), $"size {size}");
        }
        Assert.Throws<ArgumentException>(() => SpaceByteConfig.FromSize(0));
    }
}
