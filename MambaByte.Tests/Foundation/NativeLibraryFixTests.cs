using System.Diagnostics;
using MambaByte.Core.Native;
using MambaByte.Tests.Support;

namespace MambaByte.Tests.Foundation;

public sealed class NativeLibraryFixTests
{
    const string Extra = ElfVersionNeeds.TorchSharpExtraVersion;

    [Fact]
    public void Weakening_marks_only_the_missing_version_and_changes_one_byte()
    {
        using var dir = new TempDir();
        string lib = dir.File("libLibTorchSharp.so"), host = dir.File("libstdc++.so.6");
        File.WriteAllBytes(lib, SyntheticElf.Build("libstdc++.so.6", ["GLIBCXX_3.4.30", Extra, "CXXABI_1.3.1"], []));
        File.WriteAllBytes(host, SyntheticElf.Build("libc.so.6", [], ["GLIBCXX_3.4", "GLIBCXX_3.4.30", "CXXABI_1.3.1"]));
        byte[] before = File.ReadAllBytes(lib);

        Assert.Equal("patched", ElfVersionNeeds.WeakenIfHostLacks(lib, host, Extra, write: true));

        byte[] after = File.ReadAllBytes(lib);
        var needs = ElfVersionNeeds.ReadNeeds(after);
        Assert.Equal(["GLIBCXX_3.4.30", Extra, "CXXABI_1.3.1"], needs.Select(n => n.Version));
        Assert.All(needs, n => Assert.Equal(n.Version == Extra, n.IsWeak));
        Assert.Equal("libstdc++.so.6", needs[1].File);
        int[] changed = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]).ToArray();
        Assert.Equal([(int)needs[1].FlagsOffset], changed);
        Assert.Equal(ElfVersionNeeds.VerFlagWeak, after[changed[0]]);
        Assert.Equal("already-weak", ElfVersionNeeds.WeakenIfHostLacks(lib, host, Extra, write: true));
    }

    [Fact]
    public void A_host_that_defines_the_version_leaves_the_file_byte_identical()
    {
        using var dir = new TempDir();
        string lib = dir.File("libLibTorchSharp.so"), host = dir.File("libstdc++.so.6");
        File.WriteAllBytes(lib, SyntheticElf.Build("libstdc++.so.6", ["GLIBCXX_3.4.30", Extra], []));
        File.WriteAllBytes(host, SyntheticElf.Build("libc.so.6", [], ["GLIBCXX_3.4.30", "GLIBCXX_3.4.31", Extra]));
        byte[] before = File.ReadAllBytes(lib);
        DateTime stamp = File.GetLastWriteTimeUtc(lib);

        Assert.Equal("compatible", ElfVersionNeeds.WeakenIfHostLacks(lib, host, Extra, write: true));

        Assert.Equal(before, File.ReadAllBytes(lib));
        Assert.Equal(stamp, File.GetLastWriteTimeUtc(lib));
    }

    [Fact]
    public void A_library_without_the_need_is_not_touched()
    {
        using var dir = new TempDir();
        string lib = dir.File("lib.so"), host = dir.File("libstdc++.so.6");
        File.WriteAllBytes(lib, SyntheticElf.Build("libstdc++.so.6", ["GLIBCXX_3.4.30"], []));
        File.WriteAllBytes(host, SyntheticElf.Build("libc.so.6", [], ["GLIBCXX_3.4.30"]));
        byte[] before = File.ReadAllBytes(lib);
        Assert.Equal("not-needed", ElfVersionNeeds.WeakenIfHostLacks(lib, host, Extra, write: true));
        Assert.Equal(before, File.ReadAllBytes(lib));
    }

    [Fact]
    public void Truncated_or_foreign_files_are_rejected_with_a_clear_error()
    {
        Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.ReadNeeds("not an elf at all, just text"u8.ToArray()));
        byte[] elf = SyntheticElf.Build("libstdc++.so.6", [Extra], []);
        var e = Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.ReadNeeds(elf[..(elf.Length - 40)]));
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Build_output_library_is_weak_exactly_when_the_host_lacks_the_version()
    {
        string? lib = TorchRuntime.NativeLibraryPath();
        Assert.NotNull(lib);
        string? host = ElfVersionNeeds.FindHostLibStdCxx();
        Assert.NotNull(host);
        bool hostHasIt = ElfVersionNeeds.ReadDefinitions(File.ReadAllBytes(host)).Contains(Extra);
        var need = ElfVersionNeeds.ReadNeeds(File.ReadAllBytes(lib)).Single(n => n.Version == Extra);
        Assert.Equal(!hostHasIt, need.IsWeak);

        // Independent check with binutils: readelf prints the flag of every version need.
        string readelf = RunTool("readelf", $"-V \"{lib}\"");
        string line = readelf.Split('\n').Single(l => l.Contains($"Name: {Extra}"));
        Assert.Equal(!hostHasIt, line.Contains("Flags: WEAK"));
        string hostVersions = RunTool("readelf", $"-V \"{host}\"");
        Assert.Equal(hostHasIt, hostVersions.Contains(Extra));
    }

    static string RunTool(string file, string args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, UseShellExecute = false })!;
        string text = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        return text;
    }
}
