using MambaByte.Tests.Support;
using MambaByte.Train.Training;
using MambaByte.Train.Runs;
using MambaByte.Core.Files;

namespace MambaByte.Tests.Jobs;

public sealed class CheckpointReplaceTests
{
    const string Old = "old", New = "new";

    /// <summary>A checkpoint stand-in of three files that all carry the same version: a mix of two versions means a torn copy.</summary>
    static void WriteVersion(string directory, string version)
    {
        Directory.CreateDirectory(directory);
        foreach (string name in new[] { "model.safetensors", "optimizer.bin", RunDirectory.StateFile })
            File.WriteAllText(Path.Combine(directory, name), $"{name} {version}");
    }

    /// <summary>The version a directory holds, or null if any file is missing or the files disagree.</summary>
    static string? VersionOf(string directory)
    {
        string[] names = ["model.safetensors", "optimizer.bin", RunDirectory.StateFile];
        if (!Directory.Exists(directory) || names.Any(n => !File.Exists(Path.Combine(directory, n)))) return null;
        var versions = names.Select(n => File.ReadAllText(Path.Combine(directory, n))[(n.Length + 1)..]).Distinct().ToList();
        return versions.Count == 1 && Directory.GetFiles(directory).Length == names.Length ? versions[0] : null;
    }

    sealed class SimulatedCrash() : Exception("simulated crash");

    /// <summary>
    /// Replacing <c>best/</c> crashes at every point (mid-write, after the old copy is moved aside, after the new one is
    /// moved in, halfway through deleting the backup, after it); the next run's cleanup must always leave exactly one
    /// complete <c>best/</c>: the old copy until the new one is in place, the new one after.
    /// </summary>
    [Theory]
    [InlineData("second file written", Old)]
    [InlineData("last file written", Old)]
    [InlineData(nameof(ReplaceStage.OldMovedAside), Old)]
    [InlineData(nameof(ReplaceStage.NewMovedIn), New)]
    [InlineData("backup half deleted", New)]
    [InlineData(nameof(ReplaceStage.BackupDeleted), New)]
    public void A_crash_at_any_point_of_replacing_best_leaves_one_complete_copy_after_the_next_start(string crashPoint, string survivor)
    {
        using var temp = new TempDir();
        string run = temp.File("run");
        var first = new RunDirectory(run);
        first.WriteBest(dir => WriteVersion(dir, Old));
        Assert.Equal(Old, VersionOf(first.BestDirectory));

        int files = 0;
        var crashing = new RunDirectory(run)
        {
            AfterFileWritten = _ =>
            {
                files++;
                if ((crashPoint == "second file written" && files == 2) || (crashPoint == "last file written" && files == 3)) throw new SimulatedCrash();
            },
            AtReplaceStage = stage =>
            {
                if (crashPoint == "backup half deleted" && stage == ReplaceStage.NewMovedIn)
                {
                    // Stop a recursive delete part way: one file of the backup gone, the others still there.
                    string backup = Path.Combine(run, "best" + RunDirectory.BackupSuffix);
                    File.Delete(Path.Combine(backup, "optimizer.bin"));
                    throw new SimulatedCrash();
                }
                if (stage.ToString() == crashPoint) throw new SimulatedCrash();
            },
        };
        Assert.Throws<SimulatedCrash>(() => crashing.WriteBest(dir => WriteVersion(dir, New)));

        // The next run starts: its cleanup recovers, then exactly one complete copy is left.
        new RunDirectory(run).RemoveStaleTemporaries();
        Assert.Equal(["best"], Directory.GetDirectories(run).Select(Path.GetFileName));
        Assert.Equal(survivor, VersionOf(Path.Combine(run, "best")));

        // And replacing works again from there.
        var next = new RunDirectory(run);
        next.WriteBest(dir => WriteVersion(dir, "third"));
        Assert.Equal("third", VersionOf(next.BestDirectory));
        Assert.Equal(["best"], Directory.GetDirectories(run).Select(Path.GetFileName));
    }

    [Fact]
    public void A_backup_left_by_the_earlier_replace_scheme_is_restored_rather_than_deleted()
    {
        // Earlier versions moved best/ aside to best.tmp-old-XXXX and their cleanup deleted every *.tmp-* folder:
        // a crash between the two renames lost both copies. That backup is now recognised and restored.
        using var temp = new TempDir();
        string run = temp.File("run");
        WriteVersion(Path.Combine(run, "best.tmp-old-1a2b3c4d"), Old);
        WriteVersion(Path.Combine(run, "best.tmp-5e6f7a8b"), New);        // a new copy that never got renamed in
        WriteVersion(Path.Combine(run, "checkpoints", "step-4.tmp-9c0d1e2f"), New);

        new RunDirectory(run).RemoveStaleTemporaries();
        Assert.Equal(["best", "checkpoints"], Directory.GetDirectories(run).Select(Path.GetFileName).Order());
        Assert.Equal(Old, VersionOf(Path.Combine(run, "best")));
        Assert.Empty(Directory.GetDirectories(Path.Combine(run, "checkpoints")));
    }

    [Fact]
    public void Directory_sync_flushes_an_existing_directory_and_names_a_missing_one()
    {
        using var temp = new TempDir();
        Directory.CreateDirectory(temp.File("d"));
        DirectorySync.Flush(temp.File("d"));
        var e = Assert.Throws<IOException>(() => DirectorySync.Flush(temp.File("missing")));
        Assert.StartsWith(temp.File("missing") + ": cannot open the directory to sync it (", e.Message);
        Assert.Contains("No such file or directory", e.Message);
    }
}
