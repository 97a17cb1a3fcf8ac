using System.Text.Json;
using MambaByte.Data;
using MambaByte.Tests.Support;

namespace MambaByte.Tests.Data;

public sealed class SamplerTests
{
    /// <summary>Random bytes written to <c>data.bin</c> in a temporary folder and mapped as a split.</summary>
    sealed class RandomSplit : IDisposable
    {
        readonly TempDir _dir = new();

        public RandomSplit(int length, int seed = 11)
        {
            Bytes = new byte[length];
            new Random(seed).NextBytes(Bytes);
            File.WriteAllBytes(_dir.File("data.bin"), Bytes);
            Split = ByteSplit.FromFile(_dir.File("data.bin"));
        }

        public byte[] Bytes { get; }

        public ByteSplit Split { get; }

        public void Dispose()
        {
            Split.Dispose();
            _dir.Dispose();
        }
    }

    [Fact]
    public void Windows_are_in_range_and_targets_are_inputs_shifted_by_one()
    {
        using var data = new RandomSplit(40);
        ByteSplit split = data.Split;
        byte[] bytes = data.Bytes;
        const int context = 32, batch = 4;
        using var sampler = new ByteWindowSampler(split, context, batch, seed: 5);
        var seen = new HashSet<long>();
        for (int k = 0; k < 60; k++)
        {
            ByteBatch b = sampler.Next();
            Assert.Equal((batch, context), (b.BatchSize, b.Length));
            for (int row = 0; row < batch; row++)
            {
                long offset = b.Offsets[row];
                Assert.InRange(offset, 0, bytes.Length - context - 1);
                seen.Add(offset);
                Assert.Equal(bytes.AsSpan((int)offset, context).ToArray(), b.Inputs.AsSpan(row * context, context).ToArray());
                Assert.Equal(bytes.AsSpan((int)offset + 1, context).ToArray(), b.Targets.AsSpan(row * context, context).ToArray());
                Assert.Equal(b.Inputs.AsSpan(row * context + 1, context - 1).ToArray(), b.Targets.AsSpan(row * context, context - 1).ToArray());
            }
        }
        Assert.Equal(Enumerable.Range(0, bytes.Length - context).Select(i => (long)i).ToHashSet(), seen); // both ends reachable, nothing beyond
    }

    [Fact]
    public void Restored_state_continues_the_same_sequence()
    {
        using var data = new RandomSplit(5000);
        ByteSplit split = data.Split;
        var reference = new List<ByteBatch>();
        string json;
        using (var sampler = new ByteWindowSampler(split, 64, 3, seed: 42))
        {
            for (int k = 0; k < 5; k++) reference.Add(sampler.Next());
            json = JsonSerializer.Serialize(sampler.State);
            for (int k = 0; k < 4; k++) reference.Add(sampler.Next());
        }
        SamplerState state = JsonSerializer.Deserialize<SamplerState>(json)!;
        Assert.Equal(new SamplerState("data.bin", 42, 5, 64, 3), state);

        using var restored = ByteWindowSampler.FromState(split, state);
        for (int k = 5; k < 9; k++)
        {
            ByteBatch b = restored.Next();
            Assert.Equal(reference[k].Offsets, b.Offsets);
            Assert.Equal(reference[k].Inputs, b.Inputs);
            Assert.Equal(reference[k].Targets, b.Targets);
        }
        Assert.Equal(9, restored.State.NextBatch);
        Assert.NotEqual(reference[0].Offsets, reference[1].Offsets);
    }

    [Fact]
    public void Prefetch_on_and_off_and_other_seeds_behave_as_pure_functions_of_seed_and_batch_index()
    {
        using var data = new RandomSplit(3000);
        ByteSplit split = data.Split;
        using var background = new ByteWindowSampler(split, 16, 2, seed: 9, prefetch: 3);
        using var inline = new ByteWindowSampler(split, 16, 2, seed: 9, prefetch: 0);
        using var other = new ByteWindowSampler(split, 16, 2, seed: 10, prefetch: 0);
        int differ = 0;
        for (int k = 0; k < 20; k++)
        {
            ByteBatch a = background.Next(), b = inline.Next(), c = other.Next();
            Assert.Equal(a.Inputs, b.Inputs);
            Assert.Equal(ByteWindowSampler.BuildBatch(split, 16, 2, 9, k).Offsets, a.Offsets);
            if (!a.Offsets.SequenceEqual(c.Offsets)) differ++;
        }
        Assert.True(differ >= 18, $"seed 10 repeated seed 9's windows in {20 - differ} of 20 batches");
    }

    [Theory]
    [InlineData(100, 10, 3)]   // 99 scored bytes: 9 full windows + 9 left over
    [InlineData(101, 10, 4)]   // exactly 10 full windows
    [InlineData(7, 10, 2)]     // shorter than one window
    public void Sequential_evaluation_scores_every_byte_after_the_first_exactly_once(int length, int context, int batch)
    {
        using var data = new RandomSplit(length);
        ByteSplit split = data.Split;
        byte[] bytes = data.Bytes;
        var scored = new int[length];
        foreach (ByteBatch b in ByteWindowSampler.Sequential(split, context, batch))
        {
            Assert.True(b.BatchSize <= batch && b.Length <= context);
            for (int row = 0; row < b.BatchSize; row++)
            {
                long offset = b.Offsets[row];
                for (int t = 0; t < b.Length; t++)
                {
                    Assert.Equal(bytes[offset + t], b.Inputs[row * b.Length + t]);
                    Assert.Equal(bytes[offset + t + 1], b.Targets[row * b.Length + t]);
                    scored[offset + t + 1]++;
                }
            }
        }
        Assert.Equal(0, scored[0]);
        Assert.All(scored.Skip(1), count => Assert.Equal(1, count));
    }

    [Fact]
    public void Context_longer_than_the_split_is_rejected_with_both_lengths()
    {
        using var data = new RandomSplit(50);
        ByteSplit split = data.Split;
        var error = Assert.Throws<ArgumentException>(() => new ByteWindowSampler(split, 50, 1, 0));
        Assert.Contains("data.bin", error.Message);
        Assert.Contains("50 bytes", error.Message);
        Assert.Contains("context of 50", error.Message);
        using var fits = new ByteWindowSampler(split, 49, 1, 0, prefetch: 0);
        Assert.Equal(0, fits.Next().Offsets[0]); // the only window
        Assert.Throws<ArgumentException>(() => ByteWindowSampler.FromState(split, new SamplerState("validation", 0, 0, 8, 1)));
    }
}
