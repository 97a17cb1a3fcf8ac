namespace MambaByte.Train.Training;

/// <summary>One row of metrics.csv: a logged training step (<c>train</c>) or an evaluation (<c>eval</c>).</summary>
public sealed record MetricsRow(
    string Kind, long Step, long Bytes, double Loss, double BitsPerByte, double Lr,
    double BytesPerSecond, double Mfu, double ElapsedSeconds, string Split);
