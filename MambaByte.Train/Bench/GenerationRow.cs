using MambaByte.Core.Diagnostics;

namespace MambaByte.Train.Bench;

/// <summary>
/// Recurrent/cached generation after a prefill to <c>Position</c> bytes: ms per byte (spread over timed rounds
/// of <c>RoundBytes</c> steps each) and bytes/s (from the median).
/// </summary>
public sealed record GenerationRow(
    string Architecture, long Position, int RoundBytes, int Rounds, Spread MsPerByte, double BytesPerSecond, double FlopsPerByte);
