using System.Globalization;

namespace MambaByte.Train.Training;

/// <summary>
/// The checkpoint directories of a run: <c>checkpoints/step-N/</c> (the last K kept) and <c>best/</c>. Every
/// directory is written under a temporary name (<c>step-N.tmp-xxxx</c>), each file fsynced, then renamed into
/// place, so a crash mid-write leaves only a temporary folder that loading ignores and the next run removes.
/// </summary>
public sealed class CheckpointStore(string runDirectory)
{
    /// <summary>The file whose presence marks a complete training checkpoint.</summary>
    public const string StateFile = "trainer_state.json";

    const string StepPrefix = "step-";
    const string TemporaryMarker = ".tmp-";

    public string RunDirectory { get; } = Path.GetFullPath(runDirectory);

    public string CheckpointsDirectory => Path.Combine(RunDirectory, "checkpoints");

    public string BestDirectory => Path.Combine(RunDirectory, "best");

    /// <summary>Test hook: called after each file of a checkpoint is written and synced, before the rename. Throwing here simulates a crash mid-write.</summary>
    public Action<string>? AfterFileWritten { get; set; }

    public string StepDirectory(long step) => Path.Combine(CheckpointsDirectory, StepPrefix + step.ToString(CultureInfo.InvariantCulture));

    /// <summary>Writes <c>checkpoints/step-N</c> atomically, then deletes all but the last <paramref name="keepLast"/> step checkpoints.</summary>
    public string WriteStep(long step, int keepLast, Action<string> writeContents)
    {
        string final = WriteAtomically(StepDirectory(step), writeContents);
        foreach ((long _, string old) in StepCheckpoints(CheckpointsDirectory).SkipLast(keepLast).ToList())
            Directory.Delete(old, recursive: true);
        return final;
    }

    public string WriteBest(Action<string> writeContents) => WriteAtomically(BestDirectory, writeContents);

    /// <summary>Removes temporary folders a crashed write left behind.</summary>
    public void RemoveStaleTemporaries()
    {
        foreach (string parent in new[] { RunDirectory, CheckpointsDirectory })
        {
            if (!Directory.Exists(parent)) continue;
            foreach (string dir in Directory.EnumerateDirectories(parent))
                if (Path.GetFileName(dir).Contains(TemporaryMarker, StringComparison.Ordinal)) Directory.Delete(dir, recursive: true);
        }
    }

    string WriteAtomically(string final, Action<string> writeContents)
    {
        string parent = Path.GetDirectoryName(final)!;
        Directory.CreateDirectory(parent);
        string temporary = final + TemporaryMarker + Guid.NewGuid().ToString("N")[..8];
        Directory.CreateDirectory(temporary);
        writeContents(temporary);
        foreach (string file in Directory.EnumerateFiles(temporary, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            using (var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite))
                stream.Flush(flushToDisk: true);
            AfterFileWritten?.Invoke(file);
        }
        if (Directory.Exists(final))
        {
            // Replace: move the old one aside first, so at every moment one complete copy exists.
            string old = final + TemporaryMarker + "old-" + Guid.NewGuid().ToString("N")[..8];
            Directory.Move(final, old);
            Directory.Move(temporary, final);
            Directory.Delete(old, recursive: true);
        }
        else
        {
            Directory.Move(temporary, final);
        }
        return final;
    }

    /// <summary>
    /// The checkpoint a path names: a checkpoint directory itself (it holds trainer_state.json), or a run
    /// directory, whose latest complete <c>checkpoints/step-N</c> is taken.
    /// </summary>
    public static string Resolve(string path)
    {
        string full = Path.GetFullPath(path);
        if (!Directory.Exists(full)) throw new DirectoryNotFoundException($"{path}: no such checkpoint or run directory");
        if (File.Exists(Path.Combine(full, StateFile))) return full;
        var steps = StepCheckpoints(Path.Combine(full, "checkpoints")).ToList();
        if (steps.Count > 0) return steps[^1].Path;
        throw new InvalidDataException($"{path}: not a training checkpoint (no {StateFile}) and not a run directory (no checkpoints/step-N inside)");
    }

    /// <summary>The run directory a checkpoint belongs to (…/run/checkpoints/step-N or …/run/best), or null.</summary>
    public static string? RunDirectoryOf(string checkpoint)
    {
        string full = Path.GetFullPath(checkpoint).TrimEnd(Path.DirectorySeparatorChar);
        string? parent = Path.GetDirectoryName(full);
        if (parent is null) return null;
        if (Path.GetFileName(full) == "best") return parent;
        if (Path.GetFileName(parent) == "checkpoints") return Path.GetDirectoryName(parent);
        return null;
    }

    /// <summary>Complete step checkpoints (with trainer_state.json) in step order.</summary>
    static IEnumerable<(long Step, string Path)> StepCheckpoints(string checkpoints)
    {
        if (!Directory.Exists(checkpoints)) return [];
        return Directory.EnumerateDirectories(checkpoints)
            .Select(d => (Name: Path.GetFileName(d), Path: d))
            .Where(d => d.Name.StartsWith(StepPrefix, StringComparison.Ordinal) && !d.Name.Contains(TemporaryMarker, StringComparison.Ordinal))
            .Select(d => (Ok: long.TryParse(d.Name[StepPrefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out long s), Step: s, d.Path))
            .Where(d => d.Ok && File.Exists(Path.Combine(d.Path, StateFile)))
            .OrderBy(d => d.Step)
            .Select(d => (d.Step, d.Path));
    }
}
