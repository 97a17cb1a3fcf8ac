using MambaByte.Core.Models;
using MambaByte.Core.Modules.Attention;
namespace MambaByte.Core.Architectures.Transformer;

/// <summary>The byte Transformer's generation state: one growing KV cache per layer.</summary>
public sealed class TransformerInferenceState : IInferenceState
{
    private readonly KvCache[] caches;

    public TransformerInferenceState(int batchSize, int layerCount)
    {
        if (batchSize < 1) throw new ArgumentException($"batch size must be positive, got {batchSize}");
        BatchSize = batchSize;
        caches = Enumerable.Range(0, layerCount).Select(_ => new KvCache()).ToArray();
    }

    public int BatchSize { get; }

    public long Position { get; private set; }

    public IReadOnlyList<KvCache> Caches => caches;

    internal void Advance(long bytes) => Position += bytes;

    public void Dispose()
    {
        foreach (KvCache cache in caches) cache.Dispose();
    }
}
