using MambaByte.Train.Runs;

namespace MambaByte.Tests.Jobs;

/// <summary>Log lines show a run's paths as the user gave them: relative under the working directory, absolute outside it.</summary>
public sealed class RunDirectoryDisplayTests
{
    [Fact]
    public void Paths_inside_the_working_directory_are_shown_relative_and_others_absolute()
    {
        string cwd = Environment.CurrentDirectory;
        Assert.Equal(Path.Combine("runs", "quick", "checkpoints", "step-304"), RunDirectory.Display(Path.Combine(cwd, "runs", "quick", "checkpoints", "step-304")));
        Assert.Equal(Path.Combine("runs", "quick"), RunDirectory.Display(Path.Combine("runs", "quick")));
        string outside = Path.Combine(Path.GetDirectoryName(cwd) ?? "/", "elsewhere-" + Guid.NewGuid().ToString("N"), "step-1");
        Assert.Equal(Path.GetFullPath(outside), RunDirectory.Display(outside));
        string sibling = cwd + "-sibling";                                                   // shares the prefix, not the folder
        Assert.Equal(sibling, RunDirectory.Display(sibling));
    }
}
