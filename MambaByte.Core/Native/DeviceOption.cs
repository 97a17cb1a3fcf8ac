using TorchSharp;

namespace MambaByte.Core.Native;

/// <summary>Parses the <c>--device</c> option: <c>cpu</c>, <c>cuda</c>, <c>cuda:N</c> or <c>auto</c>.</summary>
public static class DeviceOption
{
    public const string Help = "cpu, cuda, cuda:N, or auto (cuda when available, else cpu)";

    /// <summary>The default of every command's <c>--device</c> except bench (which measures the CPU).</summary>
    public const string Default = "auto";

    public static torch.Device Parse(string text)
    {
        string t = text.Trim().ToLowerInvariant();
        if (t == "auto") return torch.cuda.is_available() ? torch.CUDA : torch.CPU;
        if (t == "cpu") return torch.CPU;
        if (t == "cuda" || t.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!torch.cuda.is_available())
                throw new ArgumentException($"--device {text}: CUDA is not available in this build (build with -p:TorchBackend=cuda on a machine with an NVIDIA driver)");
            if (t == "cuda") return torch.CUDA;
            if (!int.TryParse(t[5..], out int index) || index < 0 || index >= torch.cuda.device_count())
                throw new ArgumentException($"--device {text}: no such CUDA device (found {torch.cuda.device_count()})");
            return new torch.Device(DeviceType.CUDA, index);
        }
        throw new ArgumentException($"--device {text}: expected {Help}");
    }
}
