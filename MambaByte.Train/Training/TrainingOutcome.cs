namespace MambaByte.Train.Training;

/// <summary>How a run ended, and where its last checkpoint is.</summary>
public sealed record TrainingOutcome(TrainingStopReason Reason, long Step, string? LastCheckpoint, double BestEvalBitsPerByte, string Message)
{
    public int ExitCode => Reason == TrainingStopReason.NonFiniteLoss ? 3 : 0;
}
