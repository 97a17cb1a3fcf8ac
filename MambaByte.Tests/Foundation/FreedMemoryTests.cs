using System.Diagnostics;
using System.Text.Json;
using MambaByte.Tests.Support;

namespace MambaByte.Tests.Foundation;

/// <summary>
/// <see cref="MambaByte.Core.Native.TorchRuntime"/>'s allocator settings seen from a fresh <c>mambabyte info --json</c>
/// process, whose command runs on the main thread as training does: there an 80 MB block is arena memory (glibc's
/// <c>mallinfo2</c> counts no new mapping) with the settings, and a mapping of its own without them
/// (MAMBABYTE_RELEASE_FREED_MEMORY=1), which shows the probe can tell the two apart.
/// </summary>
public sealed class FreedMemoryTests
{
    static JsonElement Info(bool release)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "mambabyte.dll"), "info", "--json"])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.Environment["MAMBABYTE_RELEASE_FREED_MEMORY"] = release ? "1" : "0";
        using Process process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        Assert.True(process.WaitForExit(120_000), "mambabyte info did not finish");
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {error.Result}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }

    [Fact]
    public void Blocks_larger_than_32_MB_come_from_the_heap_unless_the_opt_out_is_set()
    {
        bool glibc = Glibc.Present;
        JsonElement kept = Info(release: false), released = Info(release: true);
        Assert.Equal(glibc, kept.GetProperty("KeepsFreedMemory").GetBoolean());
        Assert.Equal(glibc, kept.GetProperty("LargeBlocksFromHeap").GetBoolean());
        Assert.False(released.GetProperty("KeepsFreedMemory").GetBoolean());
        Assert.False(released.GetProperty("LargeBlocksFromHeap").GetBoolean());
    }
}
