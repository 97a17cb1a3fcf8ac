namespace MambaByte.Train.Evaluation;

/// <summary>
/// One measured bits-per-byte: <see cref="Method"/> is <c>windowed</c> (windows of <see cref="Context"/> bytes
/// advancing by <see cref="Stride"/>) or <c>carried-state</c> (whole documents, state carried across chunks).
/// </summary>
public sealed record EvalRow(string Data, string Split, string Method, int Context, int Stride, double BitsPerByte, long BytesScored);
