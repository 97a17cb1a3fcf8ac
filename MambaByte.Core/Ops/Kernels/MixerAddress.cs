using static TorchSharp.torch;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>Raw addresses of CPU tensors for the SIMD kernels.</summary>
internal static class MixerAddress
{
    /// <summary>The address of a contiguous CPU tensor's first element, 0 for null or empty (its storage outlives the kernel call).</summary>
    public static unsafe nint Of(Tensor? t)
    {
        if (t is null || t.numel() == 0) return 0;
        if (!t.is_contiguous()) throw new InvalidOperationException("bug: a fused mixer kernel was handed a non-contiguous tensor");
        fixed (byte* first = t.bytes) return (nint)first;
    }
}
