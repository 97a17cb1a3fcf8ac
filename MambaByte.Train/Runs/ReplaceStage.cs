namespace MambaByte.Train.Runs;

/// <summary>The points in replacing a checkpoint directory where <see cref="RunDirectory.AtReplaceStage"/> is called.</summary>
public enum ReplaceStage
{
    /// <summary>The old directory has been renamed to its backup name; the new one is not in place yet.</summary>
    OldMovedAside,

    /// <summary>The new directory is in place; the backup still exists.</summary>
    NewMovedIn,

    /// <summary>The backup has been deleted.</summary>
    BackupDeleted,
}
