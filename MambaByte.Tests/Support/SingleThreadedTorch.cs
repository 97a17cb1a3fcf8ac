using MambaByte.Core.Native;
using static TorchSharp.torch;

namespace MambaByte.Tests.Support;

/// <summary>
/// Loads libtorch and runs its intra-op work on one thread. Test tensors are tiny, and on a shared 2-core machine
/// OpenMP's worker threads spin against the other processes: one thread made the 300-byte step test 25× faster.
/// </summary>
public static class SingleThreadedTorch
{
    public static void Ensure()
    {
        TorchRuntime.EnsureLoaded();
        if (get_num_threads() != 1) set_num_threads(1);
    }
}
