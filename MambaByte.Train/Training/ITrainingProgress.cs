namespace MambaByte.Train.Training;

/// <summary>Where the trainer reports: the live step line and one-off events (evaluations, checkpoints, warnings).</summary>
public interface ITrainingProgress
{
    void Status(string line);

    void Event(string line);
}
