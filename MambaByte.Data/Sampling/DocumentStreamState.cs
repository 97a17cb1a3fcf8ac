namespace MambaByte.Data;

/// <summary>
/// Where a <see cref="DocumentStreamSampler"/> stands: <see cref="LanePositions"/>[r] is the split offset of lane r's
/// next input byte, so the next batch is rebuilt from this record alone. Checkpoints store it as JSON beside the
/// carried model state, which together make a resumed carried-state run exact.
/// </summary>
public sealed record DocumentStreamState(
    string Split, int ContextLength, int Windows, int BatchSize, int StartByte, long NextBatch, long[] LanePositions);
