using MambaByte.Core.Diagnostics;

namespace MambaByte.Train.Bench;

/// <summary>
/// Mamba generation at one model shape (<c>d_model x n_layer</c>): <c>Step</c> "fused" or "reference" with
/// <c>Weights</c> fp32/int8 at a batch of sequences, ms per step over timed rounds of <c>RoundBytes</c> steps and
/// bytes/s = batch × 1000 / median ms; or <c>Step</c> "prefill": one parallel prefill of <c>RoundBytes</c> prompt
/// bytes per round, bytes/s = prompt bytes × 1000 / median ms.
/// </summary>
public sealed record DecodingRow(string Shape, string Step, string Weights, int Batch, int Rounds, int RoundBytes, Spread Ms, double BytesPerSecond);
