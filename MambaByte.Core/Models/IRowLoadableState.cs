namespace MambaByte.Core.Models;

/// <summary>
/// An inference state of fixed size (a recurrent state, not a cache that grows with the position) whose rows can be
/// filled one sequence at a time: how prompts of different lengths, each prefilled alone, join one batch.
/// </summary>
public interface IRowLoadableState : IInferenceState
{
    /// <summary>Copies the single sequence of <paramref name="source"/> (a batch-1 state of the same model) into row <paramref name="row"/>.</summary>
    void LoadRow(int row, IInferenceState source);

    /// <summary>Moves <see cref="IInferenceState.Position"/> on by <paramref name="bytes"/> (rows loaded alone leave it to the caller).</summary>
    void Advance(long bytes);
}
