using System.Numerics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using TorchSharp;

namespace MambaByte.Core.Native;

/// <summary>What <c>mambabyte info</c> prints: versions, devices, threads, SIMD and the native-library fix.</summary>
public sealed record RuntimeReport(
    string TorchSharpVersion,
    string LibTorchVersion,
    IReadOnlyList<string> Devices,
    int TorchThreads,
    int ProcessorCount,
    string Simd,
    string Bf16Units,
    string Int8Units,
    string NativeFix,
    bool KeepsFreedMemory,
    bool LargeBlocksFromHeap)
{
    public static RuntimeReport Collect()
    {
        TorchRuntime.EnsureLoaded();
        var devices = new List<string> { "cpu" };
        if (torch.cuda.is_available())
            for (int i = 0; i < torch.cuda.device_count(); i++) devices.Add($"cuda:{i}");
        return new RuntimeReport(
            TorchRuntime.TorchSharpVersion,
            TorchRuntime.LibTorchVersion,
            devices,
            torch.get_num_threads(),
            Environment.ProcessorCount,
            DescribeSimd(),
            CpuFeatures.Detect().Bf16Units,
            CpuFeatures.Detect().Int8Units,
            DescribeNativeFix(TorchRuntime.NativeLibraryPath()),
            TorchRuntime.KeepsFreedMemory,
            TorchRuntime.LargeBlocksComeFromTheHeap());
    }

    public static string DescribeSimd()
    {
        var features = new List<string> { $"Vector<float> {Vector<float>.Count} lanes" + (Vector.IsHardwareAccelerated ? "" : " (not accelerated)") };
        if (Avx512F.IsSupported) features.Add("AVX-512F");
        features.Add(System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated ? "fused scan at 512 bits" : "fused scan at 256 bits");
        if (Avx2.IsSupported) features.Add("AVX2");
        if (Fma.IsSupported) features.Add("FMA");
        if (AdvSimd.IsSupported) features.Add("NEON");
        return string.Join(", ", features);
    }

    /// <summary>Reads the loaded libLibTorchSharp.so to say whether the build's GLIBCXX fix is in it.</summary>
    public static string DescribeNativeFix(string? libraryPath)
    {
        if (libraryPath is null) return "unknown (libLibTorchSharp.so not found beside the app)";
        var need = ElfVersionNeeds.ReadNeeds(File.ReadAllBytes(libraryPath))
            .Find(n => n.Version == ElfVersionNeeds.TorchSharpExtraVersion);
        if (need is null) return $"not needed (library does not require {ElfVersionNeeds.TorchSharpExtraVersion})";
        return need.IsWeak
            ? $"applied ({ElfVersionNeeds.TorchSharpExtraVersion} need marked weak in the output copy)"
            : $"not applied (host libstdc++ provides {ElfVersionNeeds.TorchSharpExtraVersion})";
    }
}
