using System.Text.Json.Nodes;

namespace MambaByte.Train.Training;

/// <summary>The training batch stream. <see cref="State"/> after k batches reopens the stream at batch k exactly.</summary>
public interface ITrainingBatches : IDisposable
{
    TrainingBatch Next();

    JsonObject State { get; }
}
