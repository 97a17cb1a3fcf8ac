namespace MambaByte.Core.Checkpoints;

/// <summary>One tensor's header entry: dtype name (F32, BF16, …), shape and byte range [Begin, End) in the data section.</summary>
public sealed record SafetensorsEntry(string DType, long[] Shape, long Begin, long End);
