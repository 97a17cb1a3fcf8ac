using TorchSharp;
using MambaByte.Core.Ops.Kernels;
using static TorchSharp.torch;

namespace MambaByte.Core.Ops;

public static partial class SelectiveScan
{
    /// <summary>Steps between the states the fused forward keeps for the backward's recomputation (K).</summary>
    public const int FusedCheckpointInterval = 64;

    /// <summary>
    /// The selective scan as a C# SIMD kernel on raw CPU memory (<see cref="SelectiveScanKernel{T}"/>), parallel over
    /// batch×channel, with a custom autograd backward that recomputes the states chunk by chunk from checkpoints
    /// saved every <see cref="FusedCheckpointInterval"/> steps (the paper's recomputation). Must equal
    /// <see cref="Reference"/> in values and gradients. Memory kept for backward: the inputs in the compute dtype plus
    /// (b, d, ⌈l/K⌉, n') checkpoints (n' = d_state padded to the SIMD width) — no (b, d, l, n) tensor. The backward
    /// additionally allocates per-task (l, n') partial sums for dB and dC (a few per core) and K·n' scratch per task.
    /// CPU tensors only; float32 and float64 computation.
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

        bool keepCheckpoints = is_grad_enabled() && all.Any(t => t is not null && t.requires_grad);
        object?[] args =
        [
            u.to_type(compute), delta.to_type(compute), A.to_type(compute), B.to_type(compute), C.to_type(compute),
            D?.to_type(compute), z?.to_type(compute), deltaBias?.to_type(compute), initialState?.to_type(compute),
            deltaSoftplus, keepCheckpoints,
        ];
        List<Tensor> outputs = FusedScanFunction.apply(args!);
        Tensor y = outputs[0].to_type(inputType).MoveToOuterDisposeScope();   // (b, d, l)
        Tensor? last = returnLastState ? outputs[1].MoveToOuterDisposeScope() : null; // (b, d, n)
        return new ScanResult(y, last);
    }
}
