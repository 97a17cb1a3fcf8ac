using MambaByte.Core.Models;
using MambaByte.Core.Modules.Attention;

namespace MambaByte.Core.Architectures.SpaceByte;

/// <summary>
/// SpaceByte's generation state: one KV cache per local block, shared by the batch and trimmed to the local
/// attention window; per sequence, one KV cache per global block that grows by one entry at each patch start
/// (patch starts differ between sequences, so the global caches do too); and whether each sequence's last byte
/// was spacelike (the next byte starts a patch only after a non-spacelike one). Caches live outside every dispose scope.
/// </summary>
public sealed class SpaceByteInferenceState : IInferenceState
{
    private readonly KvCache[] localCaches;
    private readonly KvCache[][] globalCaches;   // [sequence][global block]
    private readonly bool[] lastSpacelike;

    public SpaceByteInferenceState(int batchSize, int localLayerCount, int globalLayerCount)
    {
        if (batchSize < 1) throw new ArgumentException($"batch size must be positive, got {batchSize}");
        BatchSize = batchSize;
        localCaches = Enumerable.Range(0, localLayerCount).Select(_ => new KvCache()).ToArray();
        globalCaches = Enumerable.Range(0, batchSize)
            .Select(_ => Enumerable.Range(0, globalLayerCount).Select(_ => new KvCache()).ToArray()).ToArray();
        lastSpacelike = new bool[batchSize];
    }

    public int BatchSize { get; }

    public long Position { get; private set; }

    public IReadOnlyList<KvCache> LocalCaches => localCaches;

    /// <summary>The global blocks' caches of one sequence.</summary>
    public IReadOnlyList<KvCache> GlobalCaches(int sequence) => globalCaches[sequence];

    /// <summary>Patch starts (global positions) seen so far by one sequence.</summary>
    public long GlobalLength(int sequence) => globalCaches[sequence][0].Length;

    /// <summary>Whether the byte before the next one was spacelike; null before the first byte (the stream start).</summary>
    internal bool? PreviousSpacelike(int sequence) => Position == 0 ? null : lastSpacelike[sequence];

    /// <summary>Records <paramref name="bytes"/> more consumed bytes and whether each sequence's last one was spacelike.</summary>
    internal void Advance(long bytes, IReadOnlyList<bool> lastWasSpacelike)
    {
        for (int i = 0; i < BatchSize; i++) lastSpacelike[i] = lastWasSpacelike[i];
        Position += bytes;
    }

    public void Dispose()
    {
        foreach (KvCache cache in localCaches) cache.Dispose();
        foreach (KvCache cache in globalCaches.SelectMany(c => c)) cache.Dispose();
    }
}
