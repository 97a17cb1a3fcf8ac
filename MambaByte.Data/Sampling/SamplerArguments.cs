namespace MambaByte.Data;

/// <summary>The argument checks every byte sampler shares (split, context, batch, resume position, prefetch depth).</summary>
internal static class SamplerArguments
{
    public static void Check(ByteSplit split, int contextLength, int batchSize, long nextBatch, int prefetch)
    {
        ArgumentNullException.ThrowIfNull(split);
        if (contextLength < 1) throw new ArgumentException($"context length must be at least 1, got {contextLength}");
        if (batchSize < 1) throw new ArgumentException($"batch size must be at least 1, got {batchSize}");
        if (nextBatch < 0) throw new ArgumentException($"next batch must be non-negative, got {nextBatch}");
        if (prefetch < 0) throw new ArgumentException($"prefetch must be non-negative, got {prefetch}");
        if (split.Length < (long)contextLength + 1)
            throw new ArgumentException(
                $"split '{split.Name}' ({split.Path}) holds {split.Length} bytes, too few for a context of {contextLength} (a window needs {(long)contextLength + 1})");
    }
}
