using System.Globalization;
using System.Text.Json;
using MambaByte.Core.Files;

namespace MambaByte.Train.Runs;

/// <summary>
/// The checkpoint directories of a run: <c>checkpoints/step-N/</c> (the last K kept) and <c>best/</c>. Every
/// directory is written under a temporary name (<c>step-N.tmp-xxxx</c>), each file fsynced, then renamed into
/// place, so a crash mid-write leaves only a temporary folder that loading ignores and the next run removes.
/// Replacing an existing directory (<c>best/</c>) renames the old one to <c>best.previous</c>, renames the new one
/// in, then deletes the backup, syncing the parent directory after each rename; whatever point a crash stops it
/// at, <see cref="RemoveStaleTemporaries"/> finds one complete copy and keeps it.
/// </summary>
public sealed class RunDirectory(string runDirectory)
{
    /// <summary>The file whose presence marks a complete training checkpoint.</summary>
    public const string StateFile = "trainer_state.json";

    /// <summary>The JSON form of run.json and trainer_state.json: kebab-case keys, indented.</summary>
    public static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.KebabCaseLower,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        WriteIndented = true,
    };

    const string StepPrefix = "step-";
    const string TemporaryMarker = ".tmp-";

    /// <summary>The old copy of a directory being replaced, between the two renames.</summary>
    public const string BackupSuffix = ".previous";

    /// <summary>Where earlier versions moved the old copy aside (cleanup deleted it, losing both copies after a crash); still recovered.</summary>
    const string LegacyBackupMarker = ".tmp-old-";

    public string FullPath { get; } = Path.GetFullPath(runDirectory);

    /// <summary>
    /// A path as a log line shows it: relative to the working directory when it lies inside it (<c>runs/quick/...</c>
    /// for <c>--out runs/quick</c>, as the user typed it), else absolute.
    /// </summary>
    public static string Display(string path)
    {
        string relative = Path.GetRelativePath(Environment.CurrentDirectory, path);
        return relative == ".." || relative.StartsWith(".." + Path.DirectorySeparatorChar, StringComparison.Ordinal) || Path.IsPathRooted(relative)
            ? Path.GetFullPath(path)
            : relative;
    }

    public string CheckpointsDirectory => Path.Combine(FullPath, "checkpoints");

    public string BestDirectory => Path.Combine(FullPath, "best");

    /// <summary>Test hook: called after each file of a checkpoint is written and synced, before the rename. Throwing here simulates a crash mid-write.</summary>
    public Action<string>? AfterFileWritten { get; set; }

    /// <summary>Test hook: called at each stage of replacing an existing directory. Throwing here simulates a crash at that point.</summary>
    public Action<ReplaceStage>? AtReplaceStage { get; set; }

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

    /// <summary>
    /// Finishes or undoes what a crashed write left behind: a backup whose directory is missing (the crash came
    /// between the two renames) is renamed back, a backup beside its complete replacement is deleted, and temporary
    /// folders (half-written, or complete but never renamed in) are removed.
    /// </summary>
    public void RemoveStaleTemporaries()
    {
        foreach (string parent in new[] { FullPath, CheckpointsDirectory })
        {
            if (!Directory.Exists(parent)) continue;
            foreach (string dir in Directory.EnumerateDirectories(parent).Order(StringComparer.Ordinal).ToList())
            {
                if (!Directory.Exists(dir)) continue;
                string name = Path.GetFileName(dir);
                string? original = name.EndsWith(BackupSuffix, StringComparison.Ordinal) ? dir[..^BackupSuffix.Length]
                    : name.IndexOf(LegacyBackupMarker, StringComparison.Ordinal) is int at and > 0 ? Path.Combine(parent, name[..at])
                    : null;
                if (original is not null && !Directory.Exists(original))
                {
                    Directory.Move(dir, original);    // the backup is the one complete copy
                    DirectorySync.Flush(parent);
                }
                else if (original is not null || name.Contains(TemporaryMarker, StringComparison.Ordinal))
                {
                    Directory.Delete(dir, recursive: true);
                }
            }
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
        DirectorySync.Flush(temporary);
        if (Directory.Exists(final))
        {
            // Replace through a backup of a known name, so at every moment one complete copy exists under a name
            // the next run's cleanup recognises (it restores the backup when the directory itself is missing).
            string backup = final + BackupSuffix;
            if (Directory.Exists(backup)) Directory.Delete(backup, recursive: true);
            Directory.Move(final, backup);
            DirectorySync.Flush(parent);
            AtReplaceStage?.Invoke(ReplaceStage.OldMovedAside);
            Directory.Move(temporary, final);
            DirectorySync.Flush(parent);
            AtReplaceStage?.Invoke(ReplaceStage.NewMovedIn);
            Directory.Delete(backup, recursive: true);
            DirectorySync.Flush(parent);
            AtReplaceStage?.Invoke(ReplaceStage.BackupDeleted);
        }
        else
        {
            Directory.Move(temporary, final);
            DirectorySync.Flush(parent);
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
    public static string? Containing(string checkpoint)
    {
        string full = Path.GetFullPath(checkpoint).TrimEnd(Path.DirectorySeparatorChar);
        string? parent = Path.GetDirectoryName(full);
        if (parent is null) return null;
        if (Path.GetFileName(full) == "best") return parent;
        if (Path.GetFileName(parent) == "checkpoints") return Path.GetDirectoryName(parent);
        return null;
    }

    /// <summary>Writes a checkpoint's trainer_state.json (inside a checkpoint directory being written, which is published as a whole).</summary>
    public static void WriteState(string checkpoint, TrainerState state) =>
        File.WriteAllText(Path.Combine(checkpoint, StateFile), JsonSerializer.Serialize(state, Json));

    /// <summary>Reads a checkpoint's trainer_state.json, failing with the path when it is missing or corrupted.</summary>
    public static TrainerState ReadState(string checkpoint)
    {
        string path = Path.Combine(checkpoint, StateFile);
        try
        {
            return JsonSerializer.Deserialize<TrainerState>(File.ReadAllText(path), Json)
                   ?? throw new InvalidDataException($"{path}: empty trainer state");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: corrupted trainer state ({e.Message})");
        }
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
