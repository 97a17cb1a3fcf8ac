using TorchSharp;
using MambaByte.Core.Ops.Kernels;
using static TorchSharp.torch;

namespace MambaByte.Core.Ops;

public static partial class SelectiveScan
{
    /// <summary>Steps between the states the fused forward keeps for the backward's recomputation (K).</summary>
    public const int FusedCheckpointInterval = 64;

    /// <summary>
    /// The selective scan as a C# SIMD kernel on raw CPU memory, with a custom autograd backward that recomputes the
    /// states chunk by chunk from checkpoints saved every <see cref="FusedCheckpointInterval"/> steps (the paper's
    /// recomputation). It is the fused mixer's scan (<see cref="FusedMixer.Scan"/>, <see cref="MixerScanKernel{T, TV}"/>:
    /// SIMD lanes across channels, a base-2 decay, 512-bit vectors where the CPU has them) on this API's
    /// (batch, d_inner, length) layout: u, Δ and z (as the scan's xz: z alone) are transposed to (b, l, d) and B, C packed into one (b, l, 2n)
    /// row per position on the way in, y transposed back on the way out (four copies of the inputs' size, against a
    /// scan of d_state work per element). Must equal <see cref="Reference"/> in values and gradients. Memory kept for
    /// backward: the transposed inputs in the compute dtype plus (b, ⌈l/K⌉, n, d) checkpoints — no (b, d, l, n)
    /// tensor. CPU tensors only; float32 and float64 computation.
    /// </summary>
    public static ScanResult FusedCpu(
        Tensor u, Tensor delta, Tensor A, Tensor B, Tensor C,
        Tensor? D = null, Tensor? z = null, Tensor? deltaBias = null, bool deltaSoftplus = false,
        Tensor? initialState = null, bool returnLastState = false)
    {
        CheckShapes(u, delta, A, B, C, D, z, deltaBias, initialState);
        Tensor?[] all = [u, delta, A, B, C, D, z, deltaBias, initialState];
        foreach (Tensor? t in all)
        {
            if (t is not null && t.device_type != DeviceType.CPU)
                throw new ArgumentException($"selective scan FusedCpu: runs on CPU tensors only, got a tensor on {t.device}; use Parallel or Auto");
        }
        ScalarType inputType = u.dtype;
        ScalarType compute = ComputeType(inputType);
        using var scope = NewDisposeScope();

        Tensor Rows(Tensor t) => t.to_type(compute).transpose(1, 2);                         // (b, x, l) -> (b, l, x)
        Tensor uRows = Rows(u), bc = cat([Rows(B), Rows(C)], 2);                            // (b, l, d), (b, l, 2n)
        ScanResult rows = FusedMixer.Scan(uRows, Rows(delta), A, bc, dtRank: 0, D, z is null ? null : Rows(z), deltaBias, initialState,
            deltaSoftplus, returnLastState);
        Tensor y = rows.Y.transpose(1, 2).to_type(inputType).contiguous().MoveToOuterDisposeScope();   // (b, d, l)
        Tensor? last = returnLastState ? rows.LastState!.contiguous().MoveToOuterDisposeScope() : null; // (b, d, n)
        return new ScanResult(y, last);
    }
}
