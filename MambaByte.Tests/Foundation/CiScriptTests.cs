using System.Text.RegularExpressions;

namespace MambaByte.Tests.Foundation;

public sealed class CiScriptTests
{
    static string RepositoryRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, ".ci", "run"))) directory = Path.GetDirectoryName(directory);
        Assert.NotNull(directory);
        return directory;
    }

    /// <summary>
    /// Every program a test starts must be the .NET host or a tool that <c>.ci/run</c> checks for and installs, so the
    /// suite runs on a bare Debian image (which has no procps <c>kill</c>, for one: signals are sent with kill(2)).
    /// </summary>
    [Fact]
    public void Every_external_program_the_tests_start_is_installed_by_the_ci_script()
    {
        string root = RepositoryRoot();
        string script = File.ReadAllText(Path.Combine(root, ".ci", "run"));
        var installed = Regex.Matches(script, @"command -v (\S+)").Select(m => m.Groups[1].Value).ToHashSet();
        Assert.Contains("readelf", installed);

        var started = new SortedSet<string>(StringComparer.Ordinal);
        foreach (string file in Directory.EnumerateFiles(Path.Combine(root, "MambaByte.Tests"), "*.cs", SearchOption.AllDirectories))
        {
            if (file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)) continue;
            foreach (Match m in Regex.Matches(File.ReadAllText(file), @"\b(?:Process\.Start|ProcessStartInfo|RunTool)\(\s*""([^""]+)"""))
                started.Add(m.Groups[1].Value);
        }
        Assert.Contains("dotnet", started);
        string[] missing = started.Where(p => p != "dotnet" && !installed.Contains(p)).ToArray();
        Assert.True(missing.Length == 0, $"tests start {string.Join(", ", missing)}, which .ci/run does not check for or install");
    }
}
