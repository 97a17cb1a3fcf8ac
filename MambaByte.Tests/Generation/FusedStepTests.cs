using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using MambaByte.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;
using MambaByte.Core.Architectures.Mamba;

namespace MambaByte.Tests.Generation;

/// <summary>The fused CPU step (<see cref="FusedMambaDecoder"/>) against the tensor-op reference step.</summary>
public sealed class FusedStepTests
{
    // Odd d_inner (expand 1, d_model 13), d_state 5 (not a multiple of any vector width), dt_rank 3, d_conv 3, biases on.
    static MambaConfig OddConfig(bool tied) => new()
    {
        DModel = 13, NLayer = 2, DState = 5, DConv = 3, Expand = 1, DtRank = 3, Bias = true, TieEmbeddings = tied,
    };

    // Vector-aligned shapes with the default d_conv 4 and no Linear bias.
    static MambaConfig EvenConfig(bool tied) => new() { DModel = 32, NLayer = 3, DState = 16, TieEmbeddings = tied };

    static byte[] Bytes(int count, int seed)
    {
        var random = new Random(seed);
        var bytes = new byte[count];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>
    /// Drives the same 1000 bytes per sequence through a reference state and a fused state of one model, with a
    /// parallel Prefill before, and another in the middle, and returns the largest logit and state differences.
    /// </summary>
    static (double Logits, double States, double LogitScale) Drive(MambaLMHeadModel model, int batch, int steps)
    {
        using var scope = NewDisposeScope();
        using var inference = InferenceMode.Enter(model);
        using var reference = (MambaInferenceState)model.NewState(batch);
        using var fused = (MambaInferenceState)model.NewState(batch);
        Tensor Ids(byte[] bytes, long length) => tensor(bytes.Select(b => (long)b).ToArray(), [batch, length]);
        Tensor prompt = Ids(Bytes(batch * 17, 5), 17);
        model.StepKind = StepKind.Reference;
        model.Prefill(prompt, reference);
        model.StepKind = StepKind.Fused;
        model.Prefill(prompt, fused);

        Tensor sequence = Ids(Bytes(batch * steps, 6), steps);                                 // (b, steps)
        Tensor middle = Ids(Bytes(batch * 9, 7), 9);
        double logitDiff = 0, scale = 0;
        for (int t = 0; t < steps; t++)
        {
            if (t == steps / 2)
            {
                model.Prefill(middle, reference);
                model.Prefill(middle, fused);
            }
            using var stepScope = NewDisposeScope();
            Tensor input = sequence[.., t];
            model.StepKind = StepKind.Reference;
            Tensor expected = model.Step(input, reference);
            model.StepKind = StepKind.Fused;
            Tensor actual = model.Step(input, fused);
            Assert.Equal(expected.shape, actual.shape);
            Assert.Equal(expected.dtype, actual.dtype);
            logitDiff = Math.Max(logitDiff, (expected - actual).abs().max().to(float64).item<double>());
            scale = Math.Max(scale, expected.abs().max().to(float64).item<double>());
        }
        Assert.Equal(reference.Position, fused.Position);
        double stateDiff = 0;
        for (int i = 0; i < reference.Layers.Count; i++)
        {
            stateDiff = Math.Max(stateDiff, (reference.Layers[i].ConvState - fused.Layers[i].ConvState).abs().max().to(float64).item<double>());
            stateDiff = Math.Max(stateDiff, (reference.Layers[i].SsmState - fused.Layers[i].SsmState).abs().max().to(float64).item<double>());
        }
        return (logitDiff, stateDiff, scale);
    }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 3)]
    public void Fused_step_equals_reference_over_1000_bytes_at_float64(bool tied, int batch)
    {
        SingleThreadedTorch.Ensure();
        foreach (MambaConfig config in new[] { OddConfig(tied), EvenConfig(tied) })
        {
            using var model = new MambaLMHeadModel(config, seed: 21);
            model.to(float64);
            var (logits, states, scale) = Drive(model, batch, 1000);
            Assert.True(scale > 1e-3, $"logits too small to compare ({scale})");
            Assert.True(logits < 1e-10, $"{config.DModel}x{config.NLayer}: max logit difference {logits:E2}");
            Assert.True(states < 1e-10, $"{config.DModel}x{config.NLayer}: max state difference {states:E2}");
        }
    }

    [Theory]
    [InlineData(true, 2)]
    [InlineData(false, 5)]
    public void Fused_step_equals_reference_over_1000_bytes_at_float32(bool tied, int batch)
    {
        SingleThreadedTorch.Ensure();
        foreach (MambaConfig config in new[] { OddConfig(tied), EvenConfig(tied) })
        {
            using var model = new MambaLMHeadModel(config, seed: 22);
            var (logits, states, scale) = Drive(model, batch, 1000);
            Assert.True(scale > 1e-3, $"logits too small to compare ({scale})");
            Assert.True(logits < 1e-5, $"{config.DModel}x{config.NLayer}: max logit difference {logits:E2}");
            Assert.True(states < 1e-5, $"{config.DModel}x{config.NLayer}: max state difference {states:E2}");
        }
    }

    [Fact]
    public void Auto_takes_the_fused_step_for_float_rmsnorm_and_the_reference_for_layernorm()
    {
        SingleThreadedTorch.Ensure();
        using var rms = new MambaLMHeadModel(EvenConfig(true), seed: 1);
        Assert.Null(FusedMambaDecoder.Unsupported(rms));
        using var layerNorm = new MambaLMHeadModel(EvenConfig(true) with { RmsNorm = false }, seed: 1);
        Assert.Contains("LayerNorm", FusedMambaDecoder.Unsupported(layerNorm));
        using var state = layerNorm.NewState(1);
        using (no_grad())
        {
            // Auto falls back to the reference; Fused refuses with the reason.
            using Tensor logits = layerNorm.Step(tensor(new long[] { 65 }), state);
            Assert.Equal([1L, 256], logits.shape);
            layerNorm.StepKind = StepKind.Fused;
            Assert.Throws<NotSupportedException>(() => layerNorm.Step(tensor(new long[] { 66 }), state));
        }
    }

    [Fact]
    public void StepInto_writes_the_same_logits_as_Step()
    {
        SingleThreadedTorch.Ensure();
        using var model = new MambaLMHeadModel(OddConfig(true), seed: 4);
        using var a = model.NewState(2);
        using var b = model.NewState(2);
        var row = new float[2 * 256];
        using (no_grad())
        {
            foreach (byte[] pair in new[] { new byte[] { 10, 200 }, new byte[] { 0, 255 }, new byte[] { 77, 77 } })
            {
                using Tensor expected = model.Step(tensor(pair.Select(x => (long)x).ToArray()), a);
                model.StepInto(pair, b, row);
                Assert.Equal(expected.data<float>().ToArray(), row);
            }
        }
        Assert.Equal(3, b.Position);
    }

    [Fact]
    public void Fused_step_sees_in_place_weight_updates_and_rebuilds_after_a_dtype_change()
    {
        SingleThreadedTorch.Ensure();
        using var model = new MambaLMHeadModel(EvenConfig(false), seed: 8);
        using (no_grad())
        {
            using var s1 = model.NewState(1);
            using Tensor before = model.Step(tensor(new long[] { 3 }), s1);
            foreach (var p in model.parameters()) p.mul_(1.01);                                // an optimiser-like in-place update
            using var s2 = model.NewState(1);
            model.StepKind = StepKind.Reference;
            using Tensor expected = model.Step(tensor(new long[] { 3 }), s2);
            using var s3 = model.NewState(1);
            model.StepKind = StepKind.Fused;
            using Tensor actual = model.Step(tensor(new long[] { 3 }), s3);
            Assert.True((expected - actual).abs().max().item<float>() < 1e-5f);
            Assert.True((before - actual).abs().max().item<float>() > 1e-4f);

            model.to(float64);
            using var s4 = model.NewState(1);
            using Tensor wide = model.Step(tensor(new long[] { 3 }), s4);
            Assert.Equal(ScalarType.Float64, wide.dtype);
            Assert.True((wide.to(float32) - expected).abs().max().item<float>() < 1e-5f);
        }
    }

    [Theory]
    [InlineData(WeightFormat.Int8, true)]
    [InlineData(WeightFormat.Int8, false)]
    [InlineData(WeightFormat.Bf16, true)]
    public void Compact_weights_step_equals_the_reference_step_over_the_rounded_weights(WeightFormat format, bool tied)
    {
        SingleThreadedTorch.Ensure();
        using var model = new MambaLMHeadModel(EvenConfig(tied), seed: 12);
        float[] before;
        using (no_grad()) before = model.state_dict()["backbone.layers.1.mixer.in_proj.weight"].data<float>().ToArray();
        model.UseWeights(format);
        Assert.Equal(format, model.Weights);
        float[] after = model.state_dict()["backbone.layers.1.mixer.in_proj.weight"].data<float>().ToArray();
        int cols = EvenConfig(tied).DModel;
        for (int r = 0; r < after.Length / cols; r++)
        {
            float max = 0;
            for (int j = 0; j < cols; j++) max = Math.Max(max, Math.Abs(before[r * cols + j]));
            for (int j = 0; j < cols; j++)
            {
                float w = after[r * cols + j];
                if (format == WeightFormat.Bf16) Assert.Equal(0u, BitConverter.SingleToUInt32Bits(w) & 0xFFFF);
                else
                {
                    double steps = w / (max / 127.0);
                    Assert.True(Math.Abs(steps - Math.Round(steps)) < 1e-3, $"row {r}: {w} is not a multiple of the row scale");
                }
                Assert.True(Math.Abs(w - before[r * cols + j]) <= (format == WeightFormat.Int8 ? max / 254 * 1.0001 : Math.Abs(before[r * cols + j]) / 256));
            }
        }
        var (logits, states, scale) = Drive(model, 2, 200);
        Assert.True(scale > 1e-3);
        Assert.True(logits < 1e-5, $"max logit difference {logits:E2}");
        Assert.True(states < 1e-5, $"max state difference {states:E2}");
    }
}
