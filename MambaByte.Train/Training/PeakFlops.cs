using System.Diagnostics;
using static TorchSharp.torch;

namespace MambaByte.Train.Training;

/// <summary>
/// The peak FLOP/s figure MFU divides by: the best of a few fp32 square matmuls on the training device. A
/// measured number, not a datasheet one, so MFU on a laptop CPU and on a GPU mean the same thing.
/// </summary>
public static class PeakFlops
{
    public static double Measure(Device device, int size = 1024, int repeats = 4, ScalarType dtype = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(0, device);
        Tensor a = rand([size, size], generator: generator, device: device).to_type(dtype);
        Tensor b = rand([size, size], generator: generator, device: device).to_type(dtype);
        _ = matmul(a, b).sum().to_type(ScalarType.Float32).item<float>();                 // warm up (and wait for the device)
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            _ = matmul(a, b).sum().to_type(ScalarType.Float32).item<float>();             // item() waits for the device to finish
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return 2.0 * size * size * size / best;
    }

    /// <summary>
    /// The dtype <c>--dtype auto</c> trains in: bfloat16 where the device has bf16 matrix units (CUDA, or a CPU with
    /// AMX-BF16/AVX512-BF16) and a bf16 matmul measures at least 1.3× the fp32 one; float32 otherwise. MFU then
    /// divides by the rate of the dtype the matrix products run in.
    /// </summary>
    public static (ScalarType Dtype, double Float32Flops, double BFloat16Flops) ChooseAuto(Device device)
    {
        double fp32 = Measure(device);
        if (device.type == TorchSharp.DeviceType.CPU && !MambaByte.Core.Native.CpuFeatures.Detect().HasBf16Units) return (ScalarType.Float32, fp32, 0);
        double bf16 = Measure(device, dtype: ScalarType.BFloat16);
        return (bf16 >= 1.3 * fp32 ? ScalarType.BFloat16 : ScalarType.Float32, fp32, bf16);
    }
}
