using static TorchSharp.torch;
using MambaByte.Core.Models;

namespace MambaByte.Core.Architectures.Mamba;

/// <summary>
/// The whole Mamba model's inference state: one <see cref="MambaLayerState"/> per layer. Its size does not grow
/// with the number of bytes consumed, which is what makes generation constant-time and constant-memory per byte.
/// </summary>
public sealed class MambaInferenceState : IRowLoadableState
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

    /// <summary>
    /// Copies the single sequence of <paramref name="source"/> (a batch-1 state of the same model) into row
    /// <paramref name="row"/>: how prompts of different lengths, each prefilled alone, join one batch.
    /// <see cref="Position"/> is left to the caller (rows may then have consumed different numbers of bytes).
    /// </summary>
    public void LoadRow(int row, MambaInferenceState source)
    {
        if (source.BatchSize != 1 || source.layers.Length != layers.Length) throw new ArgumentException("LoadRow takes a batch-1 state of the same model");
        if ((uint)row >= (uint)BatchSize) throw new ArgumentOutOfRangeException(nameof(row), $"row {row} of a batch of {BatchSize}");
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        for (int i = 0; i < layers.Length; i++)
        {
            layers[i].ConvState[row].copy_(source.layers[i].ConvState[0]);
            layers[i].SsmState[row].copy_(source.layers[i].SsmState[0]);
        }
    }

    void IRowLoadableState.LoadRow(int row, IInferenceState source) =>
        LoadRow(row, source as MambaInferenceState ?? throw new ArgumentException($"LoadRow takes a {nameof(MambaInferenceState)}, got {source.GetType().Name}"));

    /// <summary>Makes this state equal to <paramref name="source"/> (same model and batch): values and position.</summary>
    public void CopyFrom(MambaInferenceState source)
    {
        if (source.BatchSize != BatchSize || source.layers.Length != layers.Length) throw new ArgumentException("CopyFrom takes a state of the same model and batch");
        using var noGrad = no_grad();
        for (int i = 0; i < layers.Length; i++)
        {
            layers[i].ConvState.copy_(source.layers[i].ConvState);
            layers[i].SsmState.copy_(source.layers[i].SsmState);
        }
        Position = source.Position;
    }

    /// <summary>Sets the bytes consumed, for a state restored from a kept snapshot.</summary>
    internal void RestorePosition(long position) => Position = position;

    /// <summary>Records that <paramref name="bytes"/> more bytes were consumed.</summary>
    public void Advance(long bytes) => Position += bytes;

    public void Dispose()
    {
        foreach (MambaLayerState layer in layers) layer.Dispose();
    }
}
