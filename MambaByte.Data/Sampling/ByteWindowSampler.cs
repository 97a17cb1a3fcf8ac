namespace MambaByte.Data;

/// <summary>
/// Draws training batches of (input, target) windows: each row is <c>contextLength + 1</c> bytes at a uniformly
/// random offset in [0, Length − contextLength − 1]; inputs are its first L bytes, targets its last L. Batch k is a
/// pure function of (seed, k), so a sampler restored from <see cref="State"/> continues the exact sequence, and the
/// background thread that builds the next <c>prefetch</c> batches cannot change what is returned.
/// </summary>
public sealed class ByteWindowSampler : IDisposable
{
    readonly ByteSplit _split;
    readonly ulong _seed;
    readonly BatchPrefetcher? _prefetcher;
    long _nextBatch;

    public ByteWindowSampler(ByteSplit split, int contextLength, int batchSize, ulong seed, long nextBatch = 0, int prefetch = 4)
    {
        SamplerArguments.Check(split, contextLength, batchSize, nextBatch, prefetch);
        _split = split;
        ContextLength = contextLength;
        BatchSize = batchSize;
        _seed = seed;
        _nextBatch = nextBatch;
        if (prefetch == 0) return;

        _prefetcher = new BatchPrefetcher($"ByteWindowSampler({split.Name})", prefetch, Batches(nextBatch));
    }

    public int ContextLength { get; }

    public int BatchSize { get; }

    /// <summary>The state after the batches returned so far.</summary>
    public SamplerState State => new(_split.Name, _seed, Interlocked.Read(ref _nextBatch), ContextLength, BatchSize);

    public static ByteWindowSampler FromState(ByteSplit split, SamplerState state, int prefetch = 4)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (state.Split != split.Name)
            throw new ArgumentException($"the sampler state belongs to split '{state.Split}', not '{split.Name}'");
        return new ByteWindowSampler(split, state.ContextLength, state.BatchSize, state.Seed, state.NextBatch, prefetch);
    }

    public ByteBatch Next()
    {
        ByteBatch batch = _prefetcher is null
            ? BuildBatch(_split, ContextLength, BatchSize, _seed, _nextBatch)
            : _prefetcher.Take(() => $"building batch {_nextBatch} of split '{_split.Name}'");
        Interlocked.Increment(ref _nextBatch);
        return batch;
    }

    /// <summary>Batch <paramref name="batchIndex"/> of the sequence fixed by <paramref name="seed"/>: what <see cref="Next"/> returns as that batch.</summary>
    public static ByteBatch BuildBatch(ByteSplit split, int contextLength, int batchSize, ulong seed, long batchIndex)
    {
        ulong starts = (ulong)(split.Length - contextLength); // valid offsets: 0 .. Length - contextLength - 1
        var random = new SplitMix64(SplitMix64.Mix(seed ^ SplitMix64.Mix((ulong)batchIndex + 0x632BE59BD9B4E019UL)));
        var inputs = new byte[batchSize * contextLength];   // (b, l)
        var targets = new byte[batchSize * contextLength];  // (b, l)
        var offsets = new long[batchSize];
        for (int row = 0; row < batchSize; row++)
        {
            long offset = (long)random.NextBelow(starts);
            offsets[row] = offset;
            ReadOnlySpan<byte> window = split.Slice(offset, contextLength + 1);
            window[..contextLength].CopyTo(inputs.AsSpan(row * contextLength, contextLength));
            window[1..].CopyTo(targets.AsSpan(row * contextLength, contextLength));
        }
        return new ByteBatch(batchSize, contextLength, inputs, targets) { Offsets = offsets };
    }

    /// <summary>
    /// Evaluation order: back-to-back windows that score every byte after the first exactly once (byte 0 has no
    /// context to be predicted from). Full windows come <paramref name="batchSize"/> to a batch; the remainder that
    /// does not fill a window comes last as a one-row batch of its own shorter <see cref="ByteBatch.Length"/>.
    /// </summary>
    public static IEnumerable<ByteBatch> Sequential(ByteSplit split, int contextLength, int batchSize = 1)
    {
        ArgumentNullException.ThrowIfNull(split);
        if (contextLength < 1) throw new ArgumentException($"context length must be at least 1, got {contextLength}");
        if (batchSize < 1) throw new ArgumentException($"batch size must be at least 1, got {batchSize}");
        if (split.Length < 2)
            throw new ArgumentException($"split '{split.Name}' ({split.Path}) holds {split.Length} bytes; evaluation needs at least 2");
        return SequentialIterator(split, contextLength, batchSize);
    }

    static IEnumerable<ByteBatch> SequentialIterator(ByteSplit split, int contextLength, int batchSize)
    {
        long scored = split.Length - 1;                 // targets are bytes 1 .. Length-1
        long fullWindows = scored / contextLength;
        for (long first = 0; first < fullWindows; first += batchSize)
        {
            int rows = (int)Math.Min(batchSize, fullWindows - first);
            yield return Windows(split, contextLength, Enumerable.Range(0, rows).Select(r => (first + r) * contextLength).ToArray());
        }
        int remainder = (int)(scored - fullWindows * contextLength);
        if (remainder > 0) yield return Windows(split, remainder, [fullWindows * contextLength]);
    }

    static ByteBatch Windows(ByteSplit split, int length, long[] offsets)
    {
        var inputs = new byte[offsets.Length * length];   // (rows, length)
        var targets = new byte[offsets.Length * length];  // (rows, length)
        for (int row = 0; row < offsets.Length; row++)
        {
            ReadOnlySpan<byte> window = split.Slice(offsets[row], length + 1);
            window[..length].CopyTo(inputs.AsSpan(row * length, length));
            window[1..].CopyTo(targets.AsSpan(row * length, length));
        }
        return new ByteBatch(offsets.Length, length, inputs, targets) { Offsets = offsets };
    }

    IEnumerable<ByteBatch> Batches(long start)
    {
        for (long k = start; ; k++) yield return BuildBatch(_split, ContextLength, BatchSize, _seed, k);
    }

    public void Dispose() => _prefetcher?.Dispose();
}
