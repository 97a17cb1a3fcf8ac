using System.Diagnostics;
using static TorchSharp.torch;

namespace MambaByte.Train.Training;

/// <summary>
/// The peak FLOP/s figure MFU divides by: the best of a few fp32 square matmuls on the training device. A
/// measured number, not a datasheet one, so MFU on a laptop CPU and on a GPU mean the same thing.
/// </summary>
public static class PeakFlops
{
    public static double Measure(Device device, int size = 1024, int repeats = 4)
    {
        using var scope = NewDisposeScope();
        var generator = new Generator(0, device);
        Tensor a = rand([size, size], generator: generator, device: device);
        Tensor b = rand([size, size], generator: generator, device: device);
        _ = matmul(a, b).sum().item<float>();                 // warm up (and wait for the device)
        double best = double.MaxValue;
        for (int i = 0; i < repeats; i++)
        {
            var clock = Stopwatch.StartNew();
            _ = matmul(a, b).sum().item<float>();             // item() waits for the device to finish
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }
        return 2.0 * size * size * size / best;
    }
}
