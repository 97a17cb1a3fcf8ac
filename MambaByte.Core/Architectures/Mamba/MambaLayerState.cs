using MambaByte.Core.Ops;
using static TorchSharp.torch;

namespace MambaByte.Core.Architectures.Mamba;

/// <summary>
/// One Mamba layer's recurrent state, as <c>allocate_inference_cache</c> in <c>mamba_simple.py</c>:
/// the last d_conv inputs of the causal conv (model dtype) and the SSM hidden state (float32 at least, as the
/// scan computes it). Both are updated in place.
/// </summary>
public sealed class MambaLayerState : IDisposable
{
    public MambaLayerState(long batchSize, long dInner, long dConv, long dState, ScalarType dtype, Device device)
    {
        ConvState = zeros([batchSize, dInner, dConv], dtype: dtype, device: device);   // (b, d_inner, d_conv)
        SsmState = zeros([batchSize, dInner, dState], dtype: SelectiveScan.ComputeType(dtype), device: device);   // (b, d_inner, d_state)
    }

    /// <summary>(b, d_inner, d_conv): the conv's inputs at the last d_conv positions, oldest first.</summary>
    public Tensor ConvState { get; }

    /// <summary>(b, d_inner, d_state): h after the last consumed byte.</summary>
    public Tensor SsmState { get; }

    public void Dispose()
    {
        ConvState.Dispose();
        SsmState.Dispose();
    }
}
