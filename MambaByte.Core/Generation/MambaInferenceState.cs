using static TorchSharp.torch;

namespace MambaByte.Core.Generation;

/// <summary>
/// The whole Mamba model's inference state: one <see cref="MambaLayerState"/> per layer. Its size does not grow
/// with the number of bytes consumed, which is what makes generation constant-time and constant-memory per byte.
/// </summary>
public sealed class MambaInferenceState : IInferenceState
{
    readonly MambaLayerState[] layers;

    public MambaInferenceState(int batchSize, int nLayer, long dInner, long dConv, long dState, ScalarType dtype, Device device)
    {
        BatchSize = batchSize;
        layers = new MambaLayerState[nLayer];
        for (int i = 0; i < nLayer; i++) layers[i] = new MambaLayerState(batchSize, dInner, dConv, dState, dtype, device);
    }

    public int BatchSize { get; }

    public long Position { get; private set; }

    public IReadOnlyList<MambaLayerState> Layers => layers;

    /// <summary>Records that <paramref name="bytes"/> more bytes were consumed.</summary>
    public void Advance(long bytes) => Position += bytes;

    public void Dispose()
    {
        foreach (MambaLayerState layer in layers) layer.Dispose();
    }
}
