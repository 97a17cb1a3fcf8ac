namespace MambaByte.Train.Training;

public enum TrainingStopReason
{
    /// <summary>A step, byte or time limit was reached.</summary>
    Completed,

    /// <summary>Cancelled (SIGINT/SIGTERM): a checkpoint was saved at the step boundary.</summary>
    Interrupted,

    /// <summary>A NaN or infinite loss/gradient: stopped before the update, last good checkpoint kept.</summary>
    NonFiniteLoss,
}

/// <summary>How a run ended, and where its last checkpoint is.</summary>
public sealed record TrainingOutcome(TrainingStopReason Reason, long Step, string? LastCheckpoint, double BestEvalBitsPerByte, string Message)
{
    public int ExitCode => Reason == TrainingStopReason.NonFiniteLoss ? 3 : 0;
}
