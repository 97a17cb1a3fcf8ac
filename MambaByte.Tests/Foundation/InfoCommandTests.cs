using System.Text.Json;
using MambaByte.Tests.Support;
using MambaByte.Train;

namespace MambaByte.Tests.Foundation;

public sealed class InfoCommandTests
{
    [Fact]
    public void Info_reports_versions_cpu_and_the_native_fix()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(0, Cli.Run(["info", "--json"], output, error));

        using var json = JsonDocument.Parse(output.ToString());
        JsonElement root = json.RootElement;
        Assert.Equal("0.107.0", root.GetProperty("TorchSharpVersion").GetString());
        Assert.EndsWith("/2.10.0", root.GetProperty("LibTorchVersion").GetString());
        Assert.Contains("cpu", root.GetProperty("Devices").EnumerateArray().Select(d => d.GetString()));
        Assert.Equal(TorchSharp.torch.get_num_threads(), root.GetProperty("TorchThreads").GetInt32());
        Assert.Equal(Environment.ProcessorCount, root.GetProperty("ProcessorCount").GetInt32());
        // SIMD against the kernel's own list of CPU flags (x86-64).
        if (System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.X64 && File.Exists("/proc/cpuinfo"))
        {
            string[] flags = File.ReadLines("/proc/cpuinfo").First(l => l.StartsWith("flags", StringComparison.Ordinal)).Split(' ', ':', '\t');
            string simd = root.GetProperty("Simd").GetString()!;
            Assert.Equal(flags.Contains("avx2"), simd.Contains("AVX2"));
            Assert.Equal(flags.Contains("avx512f"), simd.Contains("AVX-512F"));
            Assert.Equal(flags.Contains("fma"), simd.Contains("FMA"));
            string bf16 = root.GetProperty("Bf16Units").GetString()!, int8 = root.GetProperty("Int8Units").GetString()!;
            Assert.Equal(flags.Contains("amx_bf16"), bf16.Contains("AMX-BF16"));
            Assert.Equal(flags.Contains("avx512_bf16"), bf16.Contains("AVX512-BF16"));
            Assert.Equal(!flags.Contains("amx_bf16") && !flags.Contains("avx512_bf16"), bf16 == "none");
            Assert.Equal(flags.Contains("amx_int8"), int8.Contains("AMX-INT8"));
            Assert.Equal(flags.Contains("avx512_vnni"), int8.Contains("AVX512-VNNI"));
        }
        Assert.Matches("^(applied|not applied|not needed)", root.GetProperty("NativeFix").GetString());
        // glibc (every Debian/Ubuntu/RHEL machine) accepts the mallopt settings unless the opt-out is set.
        Assert.Equal(Glibc.Present && Environment.GetEnvironmentVariable("MAMBABYTE_RELEASE_FREED_MEMORY") != "1", root.GetProperty("KeepsFreedMemory").GetBoolean());
        Assert.Equal("", error.ToString());
    }

    [Fact]
    public void Unknown_command_fails_naming_the_word_it_did_not_recognise()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(1, Cli.Run(["no-such-command"], output, error));
        Assert.Contains("'no-such-command'", error.ToString());
        Assert.DoesNotContain("internal error", error.ToString());
    }
}
