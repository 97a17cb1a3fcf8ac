using System.Text.Json.Nodes;
using MambaByte.Core.Models;
using static TorchSharp.torch;

namespace MambaByte.Train.Training;

/// <summary>
/// What the trainer needs from the outside world: making, saving and loading models, the batch stream, the
/// evaluation bytes, and free disk space. The CLI wires the real ones; tests swap in their own.
/// </summary>
public sealed record TrainingServices(
    Func<TrainOptions, ByteLanguageModel> CreateModel,
    Action<ByteLanguageModel, string> SaveModel,
    Func<string, Device, ByteLanguageModel> LoadModel,
    Func<TrainOptions, JsonObject?, ITrainingBatches> OpenBatches,
    Func<TrainOptions, IReadOnlyList<ReadOnlyMemory<byte>>?> EvalDocuments)
{
    /// <summary>Bytes free on the volume holding a path.</summary>
    public Func<string, long> FreeSpace { get; init; } = path => new DriveInfo(Path.GetFullPath(path)).AvailableFreeSpace;

    /// <summary>The ranks training this model together (<see cref="DataParallel.Single"/>: this process alone).</summary>
    public DataParallel Parallel { get; init; } = DataParallel.Single;
}
