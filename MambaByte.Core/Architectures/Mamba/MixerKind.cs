namespace MambaByte.Core.Architectures.Mamba;

/// <summary>Which implementation of the mixer's non-matmul work (conv, SiLU, scan, skip, gate) the parallel forward runs.</summary>
public enum MixerKind
{
    /// <summary>
    /// <see cref="Fused"/> for CPU tensors when the scan kind is Auto or FusedCpu; <see cref="TensorOps"/> otherwise
    /// (CUDA, or a scan kind forced to Reference or Parallel).
    /// </summary>
    Auto,

    /// <summary>conv1d, silu, transposes and <see cref="Ops.SelectiveScan.Run"/>: the reference, device-agnostic.</summary>
    TensorOps,

    /// <summary>The two C# SIMD kernels of <see cref="Ops.FusedMixer"/> with recomputing backwards (CPU only).</summary>
    Fused,
}
