namespace MambaByte.Data;

/// <summary>
/// Where a <see cref="ByteWindowSampler"/> stands: the next batch it returns is batch <see cref="NextBatch"/> of
/// the sequence fixed by (<see cref="Seed"/>, split, context length, batch size). Checkpoints store it as JSON.
/// </summary>
public sealed record SamplerState(string Split, ulong Seed, long NextBatch, int ContextLength, int BatchSize);
