namespace MambaByte.Train.Compare;

/// <summary>
/// Test bits-per-byte at one evaluation window length (<see cref="Context"/> bytes, windows back to back, every byte
/// scored once), or, when the model cannot run windows that long, null with the reason in <see cref="Unavailable"/>.
/// </summary>
public sealed record ContextPoint(int Context, double? BitsPerByte, long BytesScored, string? Unavailable);
