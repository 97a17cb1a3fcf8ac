using System.Text.Json.Nodes;

namespace MambaByte.Train.Runs;

/// <summary>
/// trainer_state.json in a checkpoint: where training stands after <see cref="Step"/> optimizer updates, with
/// everything besides weights and optimizer moments that an exact resume needs (batch position, torch RNG state).
/// </summary>
public sealed record TrainerState(
    long Step,
    long BytesSeen,
    double ElapsedSeconds,
    double BestEvalBitsPerByte,
    JsonObject Sampler,
    string TorchRngState,
    JsonObject Options);
