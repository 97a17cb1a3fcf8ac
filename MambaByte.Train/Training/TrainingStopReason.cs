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
