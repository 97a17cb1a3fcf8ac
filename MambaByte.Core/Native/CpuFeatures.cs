
namespace MambaByte.Core.Native;

/// <summary>
/// The CPU's low-precision matrix units, detected at run time (the machine changes between runs: an AMD EPYC with
/// AVX512-BF16 one day, an Intel Xeon with AMX the next). Linux reports them as <c>/proc/cpuinfo</c> flags; libtorch's
/// oneDNN uses AMX tiles or AVX512-BF16 dot products for bfloat16 matrix products where they exist.
/// </summary>
public sealed record CpuFeatures(bool AmxBf16, bool AmxInt8, bool Avx512Bf16, bool Avx512Vnni, bool Avx512F)
{
    static readonly Lazy<CpuFeatures> Current = new(() => FromFlags(ReadFlags()));

    public static CpuFeatures Detect() => Current.Value;

    /// <summary>From a <c>flags</c> line of /proc/cpuinfo (space-separated names).</summary>
    public static CpuFeatures FromFlags(IReadOnlySet<string> flags) => new(
        flags.Contains("amx_bf16"), flags.Contains("amx_int8"), flags.Contains("avx512_bf16"), flags.Contains("avx512_vnni"),
        flags.Contains("avx512f") || System.Runtime.Intrinsics.X86.Avx512F.IsSupported);

    /// <summary>True where the CPU has hardware for bfloat16 matrix products (AMX-BF16 or AVX512-BF16).</summary>
    public bool HasBf16Units => AmxBf16 || Avx512Bf16;

    /// <summary>"AMX-BF16, AVX512-BF16", "AVX512-BF16" or "none".</summary>
    public string Bf16Units => string.Join(", ", new[] { AmxBf16 ? "AMX-BF16" : null, Avx512Bf16 ? "AVX512-BF16" : null }.OfType<string>()) is { Length: > 0 } s ? s : "none";

    /// <summary>"AMX-INT8, AVX512-VNNI", … or "none".</summary>
    public string Int8Units => string.Join(", ", new[] { AmxInt8 ? "AMX-INT8" : null, Avx512Vnni ? "AVX512-VNNI" : null }.OfType<string>()) is { Length: > 0 } s ? s : "none";

    static HashSet<string> ReadFlags()
    {
        const string path = "/proc/cpuinfo";
        if (!File.Exists(path)) return [];
        string? line = File.ReadLines(path).FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
        return line is null ? [] : line.Split(':', 2)[1].Split(' ', StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
    }
}
