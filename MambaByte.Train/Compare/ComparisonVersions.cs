using System.Reflection;
using System.Runtime.InteropServices;
using MambaByte.Core.Native;
using TorchSharp;

namespace MambaByte.Train.Compare;

/// <summary>The software and machine a comparison ran on, as the report states them.</summary>
public sealed record ComparisonVersions(
    string Mambabyte, string TorchSharp, string LibTorch, string DotNet, string Os, string Cpu, int Cores, int TorchThreads, string Device)
{
    public static ComparisonVersions Collect(string device)
    {
        TorchRuntime.EnsureLoaded();
        Assembly assembly = typeof(ComparisonVersions).Assembly;
        string version = assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
                         ?? assembly.GetName().Version?.ToString() ?? "unknown";
        return new ComparisonVersions(
            version, TorchRuntime.TorchSharpVersion, TorchRuntime.LibTorchVersion, RuntimeInformation.FrameworkDescription,
            RuntimeInformation.OSDescription, CpuName(), Environment.ProcessorCount, torch.get_num_threads(),
            DeviceOption.Parse(device).ToString());
    }

    static string CpuName()
    {
        const string cpuInfo = "/proc/cpuinfo";
        if (File.Exists(cpuInfo))
            foreach (string line in File.ReadLines(cpuInfo))
                if (line.StartsWith("model name", StringComparison.Ordinal) && line.IndexOf(':') is int colon and >= 0)
                    return line[(colon + 1)..].Trim();
        return RuntimeInformation.ProcessArchitecture.ToString();
    }
}
