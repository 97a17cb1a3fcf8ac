using MambaByte.Core.Models;
using MambaByte.Core.Architectures.MegaByte;
using MambaByte.Core.Architectures.Transformer;

namespace MambaByte.Tests.Baselines;

/// <summary>The analytic FLOPs of both baselines against counts done by hand (2 FLOPs per multiply-add).</summary>
public sealed class BaselineFlopsTests
{
    // d = 8, one layer, d_mlp = 16. Per position: qkv 2·8·24 = 384, out 2·8·8 = 128, SwiGLU 3·2·8·16 = 768 → 1280;
    // attention 4·8 = 32 per attended key; head 2·8·256 = 4096.
    private static readonly TransformerConfig HandTransformer = new() { DModel = 8, NLayer = 1, NHead = 2, DMlp = 16 };

    [Fact]
    public void Transformer_training_flops_equal_a_hand_count()
    {
        // Context 4: positions attend to 1, 2, 3, 4 keys → 32·(1+2+3+4) = 320 over 4 bytes = 80 per byte.
        double forwardPerByte = 1280 + 80 + 4096;                     // 5456
        Assert.Equal(3 * forwardPerByte, HandTransformer.TrainingFlopsPerByte(4), 9);
        Assert.Equal(16368.0, HandTransformer.TrainingFlopsPerByte(4), 9);
        // Two layers double the blocks, not the head.
        Assert.Equal(3 * (2 * (1280 + 80) + 4096.0), (HandTransformer with { NLayer = 2 }).TrainingFlopsPerByte(4), 9);
    }

    [Fact]
    public void Transformer_generation_flops_equal_a_hand_count_and_grow_with_position()
    {
        Assert.Equal(1280 + 32 * 1 + 4096.0, HandTransformer.GenerationFlopsPerByte(0), 9);     // the first byte sees itself
        Assert.Equal(1280 + 32 * 4 + 4096.0, HandTransformer.GenerationFlopsPerByte(3), 9);
        Assert.Equal(32.0 * 1000, HandTransformer.GenerationFlopsPerByte(1003) - HandTransformer.GenerationFlopsPerByte(3), 6);
    }

    // P = 2, D = 4 (two 2-channel slots), one global layer with H_g = 8, d_local = 4, one local layer with H_l = 8.
    // Global block per patch: 2·(4·16 + 3·4·8) = 320, attention 4·4 = 16 per attended patch.
    // Local block per slot: 320, attention 16 per attended slot; head 2·4·256 = 2048; projection 2·2·4 = 16 per slot.
    private static readonly MegaByteConfig HandMegaByte = new()
    {
        PatchSize = 2, DGlobal = 4, NGlobalLayer = 1, NGlobalHead = 1, DGlobalMlp = 8,
        DLocal = 4, NLocalLayer = 1, NLocalHead = 1, DLocalMlp = 8, MaxContext = 64,
    };

    [Fact]
    public void MegaByte_training_flops_equal_a_hand_count()
    {
        // Context 4 → 3 patches (positions 0…4 plus one padding slot).
        double global = (320 + 16) + (320 + 32) + (320 + 48);                            // 1056
        double slot0 = 320 + 16 + 2048 + 16, slot1 = 320 + 32 + 2048 + 16;               // 2400, 2416
        double forward = global + 3 * (slot0 + slot1);                                    // 15504
        Assert.Equal(3 * forward / 4, HandMegaByte.TrainingFlopsPerByte(4), 9);
        Assert.Equal(11628.0, HandMegaByte.TrainingFlopsPerByte(4), 9);
    }

    [Fact]
    public void MegaByte_generation_flops_add_a_global_step_only_at_patch_boundaries()
    {
        double localSlot0 = 320 + 16 + 2048, localSlot1 = 320 + 32 + 2048;
        Assert.Equal(localSlot1, HandMegaByte.GenerationFlopsPerByte(0), 9);               // predicts byte 1: slot 1 of patch 0
        Assert.Equal(localSlot0 + (320 + 2 * 16) + 2 * 16, HandMegaByte.GenerationFlopsPerByte(1), 9);   // byte 2 opens patch 1
        Assert.Equal(localSlot0 + (320 + 11 * 16) + 2 * 16, HandMegaByte.GenerationFlopsPerByte(19), 9); // byte 20 opens patch 10
        Assert.Equal(localSlot1, HandMegaByte.GenerationFlopsPerByte(20), 9);
    }

    [Fact]
    public void Models_report_their_config_flops()
    {
        using var transformer = BaselineFixtures.TinyTransformer();
        using var megabyte = BaselineFixtures.TinyMegaByte();
        Assert.Equal(transformer.Config.TrainingFlopsPerByte(128), transformer.TrainingFlopsPerByte(128));
        Assert.Equal(transformer.Config.GenerationFlopsPerByte(77), transformer.GenerationFlopsPerByte(77));
        Assert.Equal(megabyte.Config.TrainingFlopsPerByte(128), megabyte.TrainingFlopsPerByte(128));
        Assert.Equal(megabyte.Config.GenerationFlopsPerByte(77), megabyte.GenerationFlopsPerByte(77));
        Assert.True(transformer.TrainingFlopsPerByte(1024) > transformer.TrainingFlopsPerByte(128));
    }
}
