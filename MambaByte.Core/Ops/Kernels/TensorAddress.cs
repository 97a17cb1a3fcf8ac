using static TorchSharp.torch;

namespace MambaByte.Core.Ops.Kernels;

/// <summary>Raw addresses of CPU tensors for the SIMD kernels (the scans, the fused mixer and the fused step).</summary>
internal static class TensorAddress
{
    /// <summary>
    /// The address of a contiguous CPU tensor's first element, 0 for null or empty. The caller keeps the tensor alive
    /// for as long as a kernel uses the address.
    /// </summary>
    public static unsafe nint Of(Tensor? t)
    {
        if (t is null || t.numel() == 0) return 0;
        if (t.device.type != TorchSharp.DeviceType.CPU || !t.is_contiguous())
            throw new InvalidOperationException($"bug: a SIMD kernel was handed a tensor that is not contiguous on the CPU ({t.device}, shape [{string.Join(", ", t.shape)}])");
        fixed (byte* first = t.bytes) return (nint)first;
    }
}
