namespace MambaByte.Train.Compare;

/// <summary>One point of a training curve, taken from a metrics.csv row: FLOPs = bytes trained × training FLOPs/byte.</summary>
public sealed record CurvePoint(long Step, long Bytes, double Flops, double ElapsedSeconds, double BitsPerByte);
