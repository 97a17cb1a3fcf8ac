using MambaByte.Core.Architectures.Mamba;
using MambaByte.Core.Generation;
using MambaByte.Core.Models;
using MambaByte.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace MambaByte.Tests.Generation;

/// <summary>
/// The fused chunk step (<see cref="FusedMambaDecoder.StepChunk(ReadOnlySpan{byte}, MambaInferenceState, int)"/>)
/// against K single fused steps and against the tensor-op parallel prefill, and its per-position snapshots against
/// stepping the prefix alone.
/// </summary>
public sealed class ChunkStepTests
{
    // Odd d_inner, d_state and dt_rank with biases; and a vector-aligned shape with the default d_conv 4.
    static MambaConfig Config(bool odd) => odd
        ? new MambaConfig { DModel = 13, NLayer = 2, DState = 5, DConv = 3, Expand = 1, DtRank = 3, Bias = true }
        : new MambaConfig { DModel = 32, NLayer = 3, DState = 16 };

    static readonly byte[] Prompt = "Let there be light"u8.ToArray();

    static byte[] Bytes(int count, int seed)
    {
        var bytes = new byte[count];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    static (MambaLMHeadModel Model, FusedMambaDecoder Decoder) Build(bool odd, ScalarType dtype)
    {
        var model = new MambaLMHeadModel(Config(odd), seed: 11);
        model.to(dtype);
        model.eval();
        return (model, FusedMambaDecoder.Create(model, model.state_dict()["lm_head.weight"]));
    }

    static Tensor Ids(byte[] bytes) => tensor(bytes.Select(b => (long)b).ToArray(), [1, bytes.Length]);

    static double MaxDiff(Tensor a, Tensor b) => (a - b).abs().max().to(float64).item<double>();

    static double StateDiff(MambaInferenceState a, MambaInferenceState b)
    {
        double diff = 0;
        for (int i = 0; i < a.Layers.Count; i++)
        {
            diff = Math.Max(diff, MaxDiff(a.Layers[i].ConvState, b.Layers[i].ConvState));
            diff = Math.Max(diff, MaxDiff(a.Layers[i].SsmState, b.Layers[i].SsmState));
        }
        return diff;
    }

    [Theory]
    [InlineData(true, true, 1)]
    [InlineData(true, true, 3)]
    [InlineData(true, true, 5)]
    [InlineData(false, true, 8)]
    [InlineData(false, true, 9)]
    [InlineData(true, false, 5)]
    [InlineData(false, false, 9)]
    public void Chunk_logits_equal_single_fused_steps_and_the_parallel_prefill(bool odd, bool float64Model, int k)
    {
        SingleThreadedTorch.Ensure();
        ScalarType dtype = float64Model ? float64 : float32;
        double tolerance = float64Model ? 1e-10 : 1e-5;
        var (model, decoder) = Build(odd, dtype);
        using (model)
        using (var noGrad = no_grad())
        using (var scope = NewDisposeScope())
        using (var chunked = (MambaInferenceState)model.NewState(1))
        using (var stepped = (MambaInferenceState)model.NewState(1))
        using (var parallel = (MambaInferenceState)model.NewState(1))
        {
            foreach (MambaInferenceState s in new[] { chunked, stepped, parallel }) model.Prefill(Ids(Prompt), s);
            byte[] bytes = Bytes(k, 3 + k);

            Tensor chunk = decoder.StepChunk(bytes, chunked);                                  // (k, 256)
            Tensor single = cat([.. bytes.Select(b => decoder.Step(tensor(new long[] { b }), stepped))], 0);   // (k, 256)
            Tensor prefill = model.Prefill(Ids(bytes), parallel)[0];                              // (k, 256)

            Assert.Equal(new long[] { k, 256 }, chunk.shape);
            Assert.Equal(dtype, chunk.dtype);
            Assert.Equal(0, MaxDiff(chunk, single));                                               // one summation order: bit for bit
            Assert.Equal(0, StateDiff(chunked, stepped));
            double scale = prefill.abs().max().to(float64).item<double>();
            Assert.True(scale > 0.01, $"logit scale {scale}: too small for the comparison to mean anything");
            Assert.True(MaxDiff(chunk, prefill) <= tolerance * Math.Max(1, scale), $"chunk vs prefill {MaxDiff(chunk, prefill):E2}");
            Assert.True(StateDiff(chunked, parallel) <= tolerance, $"state after chunk vs prefill {StateDiff(chunked, parallel):E2}");
        }
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Snapshot_after_each_position_equals_stepping_that_prefix_alone(bool odd)
    {
        SingleThreadedTorch.Ensure();
        const int k = 7, first = 2;
        var (model, _) = Build(odd, float64);
        using (model)
        using (var noGrad = no_grad())
        using (var scope = NewDisposeScope())
        using (var chunked = (MambaInferenceState)model.NewState(1))
        using (var untouched = (MambaInferenceState)model.NewState(1))
        using (var other = (MambaInferenceState)model.NewState(1))
        {
            model.Prefill(Ids(Prompt), chunked);
            model.Prefill(Ids(Prompt), untouched);
            byte[] bytes = Bytes(k, 17);
            float[] withSnapshots = new float[k * 256], without = new float[k * 256], row = new float[256];
            model.StepChunkInto(bytes, chunked, withSnapshots, first);
            model.StepChunkInto(bytes, untouched, without);
            Assert.Equal(without, withSnapshots);                                                  // keeping states changes no logit
            Assert.Equal(0, StateDiff(chunked, untouched));                                        // nor the final state
            Assert.Equal(untouched.Position, chunked.Position);

            for (int i = k - 1; i >= 0; i--)                                                       // any order: slots are not consumed
            {
                using var stepped = (MambaInferenceState)model.NewState(1);
                using var parallel = (MambaInferenceState)model.NewState(1);
                model.Prefill(Ids(Prompt), stepped);
                for (int t = 0; t <= i; t++) model.StepInto(bytes.AsSpan(t, 1), stepped, row);
                model.Prefill(Ids([.. Prompt, .. bytes.AsSpan(0, i + 1)]), parallel);

                model.RestoreSnapshot(first + i, chunked);
                Assert.Equal(0, StateDiff(chunked, stepped));                                      // the same fused arithmetic
                Assert.True(StateDiff(chunked, parallel) < 1e-10, $"snapshot {i} vs prefill {StateDiff(chunked, parallel):E2}");
                Assert.Equal(Prompt.Length + i + 1, chunked.Position);
            }
            // Slots kept before the snapshot store grows stay valid.
            model.StepChunkInto(bytes.AsSpan(0, 2), other, without.AsSpan(0, 512), 40);
            model.RestoreSnapshot(first + k - 1, chunked);
            Assert.Equal(0, StateDiff(chunked, untouched));
            Assert.Throws<ArgumentException>(() => model.RestoreSnapshot(first + 1, other));     // slots belong to the state that kept them
            Assert.Throws<ArgumentException>(() => model.RestoreSnapshot(first + k, chunked));   // never written
        }
    }
}
