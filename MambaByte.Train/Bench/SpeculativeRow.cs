using MambaByte.Core.Diagnostics;

namespace MambaByte.Train.Bench;

/// <summary>
/// Greedy generation of <c>Bytes</c> bytes after a fixed prompt, the target alone (<c>DraftBytes</c> 0) or
/// speculative with K = <c>DraftBytes</c> and a <c>Restore</c> strategy; bytes/s over <c>Runs</c> runs alternated
/// with the other configurations; <c>Acceptance</c> = accepted / proposed draft bytes; <c>SpeedUp</c> = median
/// bytes/s over the plain run's median. <c>Trained</c>: the models came from checkpoints (untrained models agree
/// on whatever their initialisation makes them agree on, so their acceptance says nothing).
/// </summary>
public sealed record SpeculativeRow(string Target, string Draft, bool Trained, int DraftBytes, string Restore, int Runs, int Bytes,
    Spread BytesPerSecond, double Acceptance, double SpeedUp);
