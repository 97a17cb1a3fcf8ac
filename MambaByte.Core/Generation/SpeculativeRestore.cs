namespace MambaByte.Core.Generation;

/// <summary>How <see cref="SpeculativeDecoder"/> brings the models back to the last accepted byte after a rejection.</summary>
public enum SpeculativeRestore
{
    /// <summary>
    /// The chunk step keeps the state after every position (<see cref="Architectures.Mamba.MambaLMHeadModel.StepChunkInto"/>'s
    /// snapshots) and the accepted one is copied back: nothing is run again. Needs the fused step; where it does
    /// not run, <see cref="Rerun"/> is taken.
    /// </summary>
    Snapshots,

    /// <summary>Both states are saved at the round's start, restored, and the accepted prefix is run again.</summary>
    Rerun,
}
