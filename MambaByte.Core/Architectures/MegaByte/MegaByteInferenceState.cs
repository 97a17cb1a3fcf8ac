using static TorchSharp.torch;
using MambaByte.Core.Models;
using MambaByte.Core.Modules.Attention;

namespace MambaByte.Core.Architectures.MegaByte;

/// <summary>
/// MegaByte's generation state: the global model's KV caches (one entry per patch), the local model's KV caches
/// (restarted at every patch), the current patch's conditioning from the global model and the bytes of the
/// current patch seen so far (the next global step's input). Tensors live outside every dispose scope.
/// </summary>
public sealed class MegaByteInferenceState : IInferenceState
{
    private readonly KvCache[] globalCaches;
    private readonly KvCache[] localCaches;
    private Tensor? conditioning;   // (b, P, d_local)
    private Tensor? patchBytes;     // (b, P) int64

    public MegaByteInferenceState(int batchSize, int globalLayerCount, int localLayerCount)
    {
        if (batchSize < 1) throw new ArgumentException($"batch size must be positive, got {batchSize}");
        BatchSize = batchSize;
        globalCaches = Enumerable.Range(0, globalLayerCount).Select(_ => new KvCache()).ToArray();
        localCaches = Enumerable.Range(0, localLayerCount).Select(_ => new KvCache()).ToArray();
    }

    public int BatchSize { get; }

    /// <summary>Bytes consumed so far. The model's own position (it predicts byte j from bytes before j) is Position + 1.</summary>
    public long Position { get; private set; }

    public IReadOnlyList<KvCache> GlobalCaches => globalCaches;

    public IReadOnlyList<KvCache> LocalCaches => localCaches;

    /// <summary>Whether the model's position 0 (the first patch's global step and first local step) has run.</summary>
    internal bool Started => conditioning is not null;

    internal Tensor Conditioning => conditioning ?? throw new InvalidOperationException("MegaByte state has not started");

    internal Tensor PatchBytes => patchBytes ?? throw new InvalidOperationException("MegaByte state has not started");

    /// <summary>Takes over <paramref name="value"/> (b, P, d_local) as the current patch's conditioning.</summary>
    internal void SetConditioning(Tensor value)
    {
        conditioning?.Dispose();
        conditioning = value.detach().DetachFromDisposeScope();
    }

    /// <summary>Takes over <paramref name="value"/> (b, P) as the current patch's byte buffer.</summary>
    internal void SetPatchBytes(Tensor value)
    {
        patchBytes?.Dispose();
        patchBytes = value.DetachFromDisposeScope();
    }

    internal void ClearLocal()
    {
        foreach (KvCache cache in localCaches) cache.Clear();
    }

    internal void Advance(long bytes) => Position += bytes;

    public void Dispose()
    {
        foreach (KvCache cache in globalCaches) cache.Dispose();
        foreach (KvCache cache in localCaches) cache.Dispose();
        conditioning?.Dispose();
        patchBytes?.Dispose();
        conditioning = patchBytes = null;
    }
}
