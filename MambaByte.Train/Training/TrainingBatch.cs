namespace MambaByte.Train.Training;

/// <summary>
/// Row-major (rows × length) input bytes and the next byte after each. <see cref="ResetBefore"/> (carried-state
/// training only, same layout) marks where a row's recurrent state is zeroed before its input: a document start.
/// </summary>
public sealed record TrainingBatch(int Rows, int Length, byte[] Inputs, byte[] Targets)
{
    public bool[]? ResetBefore { get; init; }
}
