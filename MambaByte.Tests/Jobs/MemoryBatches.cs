using System.Text.Json.Nodes;
using MambaByte.Core.Generation;
using MambaByte.Train.Training;

namespace MambaByte.Tests.Jobs;

/// <summary>Test batches from an in-memory corpus: batch k is a pure function of (seed, k), like the real sampler.</summary>
internal sealed class MemoryBatches(byte[] corpus, int context, int batchSize, ulong seed, long next) : ITrainingBatches
{
    long next = next;

    public JsonObject State => new() { ["seed"] = seed, ["next"] = next };

    public static MemoryBatches Open(byte[] corpus, TrainOptions options, JsonObject? state) =>
        new(corpus, options.Context, options.BatchSize, (ulong)options.Seed, state is null ? 0 : (long)state["next"]!);

    public TrainingBatch Next()
    {
        var random = new SplitMix64(seed * 1_000_003 + (ulong)next++);
        var inputs = new byte[batchSize * context];
        var targets = new byte[batchSize * context];
        for (int r = 0; r < batchSize; r++)
        {
            int offset = (int)(random.NextUInt64() % (ulong)(corpus.Length - context));
            corpus.AsSpan(offset, context).CopyTo(inputs.AsSpan(r * context));
            corpus.AsSpan(offset + 1, context).CopyTo(targets.AsSpan(r * context));
        }
        return new TrainingBatch(batchSize, context, inputs, targets);
    }

    public void Dispose()
    {
    }
}
